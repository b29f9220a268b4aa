import sharp from 'sharp';
import { CorruptImageError, type EncodeOptions, type ResizeBackend, type ResizeOutput, type ResizeSpec } from './backend.js';

export class CpuBackend implements ResizeBackend {
  readonly name = 'cpu';

  /** `threads`: libvips threads per image (Etsy's OMP_NUM_THREADS); jobs in parallel are the caller's. */
  constructor(threads = 1) {
    sharp.concurrency(threads);
    // Memory, not speed, is what the decoded-image cache costs a long-running worker.
    sharp.cache({ memory: 64, items: 16, files: 0 });
  }

  async resize(input: Buffer, spec: ResizeSpec, encode: EncodeOptions): Promise<ResizeOutput> {
    try {
      const img = sharp(input, { failOn: 'error', limitInputPixels: 100_000_000 })
        // EXIF orientation first, so the size applies to the picture as seen.
        .rotate()
        .resize(spec.size, spec.size, { fit: spec.square ? 'cover' : 'inside', kernel: 'lanczos3', withoutEnlargement: !spec.square })
        // The fast mild sharpen: sharpen({ sigma }) takes a much slower path in libvips.
        .sharpen()
        .toColourspace('srgb')
        .jpeg({ quality: encode.quality, progressive: encode.progressive, chromaSubsampling: encode.chromaSubsampling, mozjpeg: false });
      const { data, info } = await img.toBuffer({ resolveWithObject: true });
      return { data, width: info.width, height: info.height };
    } catch (err) {
      throw new CorruptImageError(`cannot resize: ${(err as Error).message}`);
    }
  }
}
