/**
 * Perceptual compression of a resize: the lowest JPEG quality whose SSIM against the
 * resize stays at or above a target, found by binary search over a quality range.
 * SSIM is ssim.js at full resolution (`downsample: false`: its default downsampling
 * to ~256 px barely sees JPEG quality changes) with the Bezkrovny variant (~6× faster,
 * same value as Weber's here).
 *
 * The reference is the resize as the resize tier stored it: the tier keeps no
 * uncompressed copy, and its quality-85 output is the best version there is.
 */
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { Validator } from '../common/index.js';
import { withProfileAndExifOf } from './jpeg-segments.js';
import type { PreparedSize, RawPixels } from './backend.js';
import type { VariantFormat } from './formats.js';

/**
 * What a perceptual pass did to a resize, kept in the resize's own metadata (`pq`) and
 * written with it in one put: the hashes of its input and output, so that no pass ever
 * runs on its own output (generation loss), and what it chose.
 */
export const MarkerSchema = Type.Object({
  inputSha: Type.String(),
  outputSha: Type.String(),
  quality: Type.Integer(),
  score: Type.Number(),
  bytesBefore: Type.Integer(),
  bytesAfter: Type.Integer(),
});
export type Marker = Static<typeof MarkerSchema>;
export const markerValidator = new Validator(MarkerSchema, 'perceptual marker');
/** The metadata name the marker is kept under. */
export const MARKER_META = 'pq';
/** The metadata name a stored variant keeps what its search found under: `{quality, score, target, jpegBytes}`. */
export const VARIANT_META = 'variant';

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The marker of a pass over `input` that came to `r`. */
export const markerOf = (input: Buffer, r: PerceptualResult): Marker => ({
  inputSha: sha256(input),
  outputSha: sha256(r.data),
  quality: r.quality,
  score: r.score,
  bytesBefore: r.bytesBefore,
  bytesAfter: r.bytesAfter,
});

export interface PerceptualOptions {
  /** SSIM the result must keep against the reference (default 0.985). */
  target: number;
  minQuality: number;
  maxQuality: number;
  progressive: boolean;
  /**
   * Encode with sharp's mozjpeg settings (trellis quantisation, optimised scans):
   * 2–5 points more saved than libjpeg-turbo's defaults at the same SSIM.
   */
  mozjpeg: boolean;
}

export const DEFAULT_PERCEPTUAL: PerceptualOptions = { target: 0.985, minQuality: 40, maxQuality: 95, progressive: true, mozjpeg: true };

export interface PerceptualResult {
  /** The bytes to keep: the recompressed file, or the input if that was not smaller. */
  data: Buffer;
  changed: boolean;
  quality: number;
  score: number;
  bytesBefore: number;
  bytesAfter: number;
}

const asImage = (r: RawPixels) => ({
  data: new Uint8ClampedArray(r.data.buffer, r.data.byteOffset, r.data.length),
  width: r.width,
  height: r.height,
  colorSpace: 'srgb' as const,
});

/** The pixels as stored, in the file's own colour space (a P3 resize is compared and re-encoded as P3, never converted). */
async function decode(jpeg: Buffer): Promise<RawPixels> {
  const { data, info } = await sharp(jpeg, { ignoreIcc: true }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * The lowest quality in [lo, hi] whose encode scores at least `target`, by binary search
 * (scores rise with quality), with its bytes and score; undefined when even `hi` does not.
 * The perceptual tier's method, for any encoder (the formats benchmark runs it per format).
 */
export async function lowestPassing(
  lo: number,
  hi: number,
  target: number,
  encode: (q: number) => Promise<Buffer>,
  score: (encoded: Buffer) => Promise<number>,
): Promise<{ q: number; data: Buffer; score: number } | undefined> {
  let best: { q: number; data: Buffer; score: number } | undefined;
  while (lo <= hi) {
    const q = Math.floor((lo + hi) / 2);
    const data = await encode(q);
    const s = await score(data);
    if (s >= target) {
      best = { q, data, score: s };
      hi = q - 1;
    } else lo = q + 1;
  }
  return best;
}

/** SSIM of `encoded` (any format sharp reads) against reference pixels, as the perceptual tier scores. */
export async function ssimAgainst(reference: RawPixels, encoded: Buffer): Promise<number> {
  return ssim(asImage(reference), asImage(await decode(encoded)), { ssim: 'bezkrovny', downsample: false }).mssim;
}

export async function perceptualRecompress(input: Buffer, o: PerceptualOptions = DEFAULT_PERCEPTUAL): Promise<PerceptualResult> {
  const reference = await decode(input);
  const encode = (q: number): Promise<Buffer> =>
    sharp(reference.data, { raw: { width: reference.width, height: reference.height, channels: 4 } })
      .removeAlpha()
      .jpeg({ quality: q, progressive: o.progressive, chromaSubsampling: '4:2:0', mozjpeg: o.mozjpeg })
      .toBuffer();
  // Invariant: maxQuality (or above) meets the target; search the lowest that does.
  const best = await lowestPassing(o.minQuality, o.maxQuality, o.target, encode, (jpeg) => ssimAgainst(reference, jpeg));
  // What the resize carried (its colour profile, its credits) goes with the re-encode, byte for byte.
  if (best) best.data = withProfileAndExifOf(input, best.data);
  if (!best || best.data.length >= input.length) {
    return { data: input, changed: false, quality: best?.q ?? o.maxQuality, score: best?.score ?? 1, bytesBefore: input.length, bytesAfter: input.length };
  }
  return { data: best.data, changed: true, quality: best.q, score: best.score, bytesBefore: input.length, bytesAfter: best.data.length };
}

/** Where the search for a variant's quality looks, and the encoder's effort. */
export interface VariantSearch {
  minQuality: number;
  maxQuality: number;
  effort: number;
}

export interface SearchedVariant {
  data: Buffer;
  quality: number;
  score: number;
}

/** How far from a neighbouring size's quality the search looks first: one photo's qualities differ by a few points from size to size. */
const NEAR = 6;

/**
 * The smallest `format` encoding of a prepared size that looks as its JPEG does: the
 * lowest quality whose SSIM against the uncompressed resize is at least `target` (the
 * JPEG's own score against it), by the perceptual tier's search; undefined when even
 * `maxQuality` scores below it. `near` (the quality found for the same photo's next
 * smaller size) narrows the search to ±6 around it first, which takes about 4 encodes
 * instead of 7, and it widens when the answer lies outside.
 */
export async function perceptualVariant(
  size: PreparedSize,
  reference: RawPixels,
  format: VariantFormat,
  o: VariantSearch,
  target: number,
  near?: number,
): Promise<SearchedVariant | undefined> {
  const search = (lo: number, hi: number) =>
    lowestPassing(
      lo,
      hi,
      target,
      (quality) => size.encode({ format, quality, effort: o.effort }),
      (data) => ssimAgainst(reference, data),
    );
  let best;
  if (near === undefined) best = await search(o.minQuality, o.maxQuality);
  else {
    const lo = Math.max(o.minQuality, near - NEAR);
    const hi = Math.min(o.maxQuality, near + NEAR);
    best = await search(lo, hi);
    if (!best) best = await search(hi + 1, o.maxQuality);
    else if (best.q === lo) best = (await search(o.minQuality, lo - 1)) ?? best;
  }
  return best && { data: best.data, quality: best.q, score: best.score };
}
