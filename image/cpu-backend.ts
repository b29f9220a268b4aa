import exifReader from 'exif-reader';
import sharp, { type Sharp } from 'sharp';
import { isSrgbProfile } from './icc.js';
import { DECODE_OPTIONS, decodeOriginal } from './original.js';
import {
  CorruptImageError,
  type EncodeOptions,
  type PreparedSize,
  type ResizeBackend,
  type ResizeOutput,
  type ResizeSpec,
  type SizeEncoding,
} from './backend.js';
import type { VariantEncode } from './formats.js';

export class CpuBackend implements ResizeBackend {
  readonly name = 'cpu';

  /** `threads`: libvips threads per image (Etsy's OMP_NUM_THREADS); jobs in parallel are the caller's. */
  constructor(threads = 1) {
    sharp.concurrency(threads);
    // Memory, not speed, is what the decoded-image cache costs a long-running worker.
    sharp.cache({ memory: 64, items: 16, files: 0 });
  }

  async resize(input: Buffer, spec: ResizeSpec, encode: EncodeOptions, variant?: VariantEncode): Promise<ResizeOutput> {
    try {
      const { img, credits } = await this.resized(input, spec);
      const { data, info } = await encoded(img, credits, variant ?? { format: 'jpeg', jpeg: encode }).toBuffer({ resolveWithObject: true });
      return { data, width: info.width, height: info.height };
    } catch (err) {
      throw new CorruptImageError(`cannot resize: ${(err as Error).message}`);
    }
  }

  async prepare(input: Buffer, spec: ResizeSpec): Promise<PreparedSize> {
    let png: Buffer;
    let size: { width: number; height: number };
    let credits: Credits | undefined;
    try {
      const r = await this.resized(input, spec);
      credits = r.credits;
      // Held as an uncompressed PNG: it keeps the profile a wide-gamut size keeps and the
      // depth of a 16-bit one, and an encode of it is byte for byte the encode of the
      // pipeline (a TIFF would hold libvips' float intermediate, read back as linear light).
      const out = await r.img.png({ compressionLevel: 0 }).toBuffer({ resolveWithObject: true });
      png = out.data;
      size = { width: out.info.width, height: out.info.height };
    } catch (err) {
      throw new CorruptImageError(`cannot resize: ${(err as Error).message}`);
    }
    return {
      ...size,
      reference: async () => {
        // In the size's own space, as an encoding of it decodes (image/perceptual.ts): no profile applied; 16 bits scaled to 8.
        const { data, info } = await sharp(png, { ignoreIcc: true }).toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
        return { data, width: info.width, height: info.height };
      },
      encode: (how) => encoded(sharp(png).keepIccProfile(), credits, how).toBuffer(),
    };
  }

  /** The size as every encoding of it starts: decoded, turned upright, resized, sharpened, in its colour space. */
  private async resized(input: Buffer, spec: ResizeSpec): Promise<{ img: Sharp; credits?: Credits }> {
    let side = spec.size;
    // By content, not by name: a JPEG, or a HEIF decoded by libheif; a PNG called .jpg is refused here.
    const { pixels, meta, upright } = await decodeOriginal(input);
    // A square is cropped at most to the shorter side as seen (after EXIF orientation): never enlarged.
    const seen = upright ? { width: meta.width, height: meta.height } : (meta.autoOrient ?? { width: meta.width, height: meta.height });
    if (spec.square) side = Math.min(spec.size, seen.width ?? spec.size, seen.height ?? spec.size);
    let img = sharp(pixels, DECODE_OPTIONS);
    // EXIF orientation first, so the size applies to the picture as seen.
    if (!upright) img = img.rotate();
    img = img
      .resize(side, side, { fit: spec.square ? 'cover' : 'inside', kernel: 'lanczos3', withoutEnlargement: true })
      // The fast mild sharpen: sharpen({ sigma }) takes a much slower path in libvips.
      .sharpen();
    // A wide-gamut RGB photo (a phone's Display P3) stays in its space, tagged: converted
    // to sRGB its most saturated colours would be clipped. Anything else becomes sRGB, untagged.
    // (A 10-bit HEIC comes as 16-bit RGB, `rgb16`.)
    img = meta.icc && (meta.space === 'srgb' || meta.space === 'rgb16') && !isSrgbProfile(meta.icc) ? img.keepIccProfile() : img.toColourspace('srgb');
    // Who made it and who owns it travel with every size; nothing else of the metadata does.
    return { img, credits: creditsOf(meta.exif) };
  }
}

type Credits = { Copyright?: string; Artist?: string };

/** `img` encoded as `how` says, with the size's credits. */
function encoded(img: Sharp, credits: Credits | undefined, how: SizeEncoding): Sharp {
  if (credits) img = img.withExif({ IFD0: credits });
  if (how.format === 'jpeg')
    return img.jpeg({ quality: how.jpeg.quality, progressive: how.jpeg.progressive, chromaSubsampling: how.jpeg.chromaSubsampling, mozjpeg: false });
  // 4:2:0 as the JPEG has, so the variants of a size differ in their codec, not in their colour resolution.
  if (how.format === 'avif') return img.avif({ quality: how.quality, effort: how.effort, chromaSubsampling: '4:2:0' });
  return img.webp({ quality: how.quality, effort: how.effort, smartSubsample: true });
}

/** The copyright and artist fields of an Exif block, when it has either (an Exif that does not parse has none). */
export function creditsOf(exif: Buffer | undefined): Credits | undefined {
  if (!exif) return undefined;
  let image: { Copyright?: unknown; Artist?: unknown } | undefined;
  try {
    image = exifReader(exif).Image;
  } catch {
    return undefined;
  }
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
  const credits = { ...(text(image?.Copyright) ? { Copyright: text(image?.Copyright) } : {}), ...(text(image?.Artist) ? { Artist: text(image?.Artist) } : {}) };
  return Object.keys(credits).length > 0 ? credits : undefined;
}
