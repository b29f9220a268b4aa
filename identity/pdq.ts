/**
 * PDQ, Meta's open perceptual hash (ThreatExchange's hashing.pdf), written from its
 * description: no maintained npm package computes it. 256 bits and a 0–100 quality:
 *
 * 1. luma (Rec. 601: 0.299 R + 0.587 G + 0.114 B) of the image, first shrunk to fit
 *    512 px by sharp (as Meta's faster hashers do; PDQ is blind to that detail);
 * 2. a tent blur (Jarosz: two rounds of a box filter along rows then columns, window
 *    ⌈dimension / 128⌉) and decimation to 64 × 64, sampling block centres;
 * 3. quality: the sum of significant luma steps between neighbours of the 64 × 64;
 * 4. the 16 × 16 lowest non-DC coefficients of its 2-D DCT, each bit set when its
 *    coefficient is above their median.
 *
 * Bit k (k = 16 row + column) is bit k % 16 of 16-bit word k / 16, and the hex form
 * prints words 15 down to 0, as Meta's Hash256 does. Two hashes match when their
 * Hamming distance is within a threshold: Meta suggests 31 (of 256).
 */
import sharp from 'sharp';

export { hamming } from './bits.js';

export const PDQ_MATCH_THRESHOLD = 31;
const SIDE = 64;
const OUT = 16;

export interface PdqHash {
  /** 32 bytes, the hex form's bytes in order. */
  hash: Buffer;
  hex: string;
  /** 0–100; Meta suggests not trusting hashes below 50 (flat or nearly empty images). */
  quality: number;
}

/** DCT rows 1..16 of a 64-point DCT-II (row 0, the mean, carries no shape). */
const DCT = (() => {
  const d = new Float64Array(OUT * SIDE);
  const scale = Math.sqrt(2 / SIDE);
  for (let i = 0; i < OUT; i++) for (let k = 0; k < SIDE; k++) d[i * SIDE + k] = scale * Math.cos((Math.PI / 2 / SIDE) * (i + 1) * (2 * k + 1));
  return d;
})();

/** One box-filter pass over `n` values `stride` apart: each output the mean of its window, shrunk at the edges. */
function boxPass(src: Float64Array, dst: Float64Array, start: number, n: number, stride: number, window: number, prefix: Float64Array): void {
  const half = Math.floor((window + 2) / 2);
  prefix[0] = 0;
  for (let i = 0; i < n; i++) prefix[i + 1] = (prefix[i] as number) + (src[start + i * stride] as number);
  for (let o = 0; o < n; o++) {
    const lo = Math.max(0, o + half - window);
    const hi = Math.min(n - 1, o + half - 1);
    dst[start + o * stride] = ((prefix[hi + 1] as number) - (prefix[lo] as number)) / (hi - lo + 1);
  }
}

/** PDQ of a luma plane (`rows` × `cols`, row-major). */
export function pdqOfLuma(luma: Float64Array, rows: number, cols: number): PdqHash {
  const other = new Float64Array(luma.length);
  const prefix = new Float64Array(Math.max(rows, cols) + 1);
  const wRows = Math.ceil(cols / 128);
  const wCols = Math.ceil(rows / 128);
  for (let pass = 0; pass < 2; pass++) {
    for (let r = 0; r < rows; r++) boxPass(luma, other, r * cols, cols, 1, wRows, prefix);
    for (let c = 0; c < cols; c++) boxPass(other, luma, c, rows, cols, wCols, prefix);
  }
  const a = new Float64Array(SIDE * SIDE);
  for (let i = 0; i < SIDE; i++) {
    const r = Math.floor(((i + 0.5) * rows) / SIDE);
    for (let j = 0; j < SIDE; j++) a[i * SIDE + j] = luma[r * cols + Math.floor(((j + 0.5) * cols) / SIDE)] as number;
  }
  // Quality: luma steps counted in whole percent, so many tiny ones do not add up to structure.
  let gradient = 0;
  for (let i = 0; i < SIDE; i++) {
    for (let j = 0; j < SIDE; j++) {
      const u = a[i * SIDE + j] as number;
      if (i < SIDE - 1) gradient += Math.abs(Math.trunc(((u - (a[(i + 1) * SIDE + j] as number)) * 100) / 255));
      if (j < SIDE - 1) gradient += Math.abs(Math.trunc(((u - (a[i * SIDE + j + 1] as number)) * 100) / 255));
    }
  }
  const quality = Math.min(100, Math.trunc(gradient / 90));
  // B = D A Dᵀ, through T = D A.
  const t = new Float64Array(OUT * SIDE);
  for (let i = 0; i < OUT; i++) {
    for (let j = 0; j < SIDE; j++) {
      let s = 0;
      for (let k = 0; k < SIDE; k++) s += (DCT[i * SIDE + k] as number) * (a[k * SIDE + j] as number);
      t[i * SIDE + j] = s;
    }
  }
  const b = new Float64Array(OUT * OUT);
  for (let i = 0; i < OUT; i++) {
    for (let j = 0; j < OUT; j++) {
      let s = 0;
      for (let k = 0; k < SIDE; k++) s += (t[i * SIDE + k] as number) * (DCT[j * SIDE + k] as number);
      b[i * OUT + j] = s;
    }
  }
  const median = Float64Array.from(b).sort()[(OUT * OUT) / 2 - 1] as number;
  const words = new Uint16Array(OUT);
  for (let k = 0; k < OUT * OUT; k++) if ((b[k] as number) > median) words[k >> 4] = (words[k >> 4] as number) | (1 << (k & 15));
  let hex = '';
  for (let w = OUT - 1; w >= 0; w--) hex += (words[w] as number).toString(16).padStart(4, '0');
  return { hash: Buffer.from(hex, 'hex'), hex, quality };
}

/** PDQ of an encoded image (JPEG, PNG, …). EXIF orientation is ignored, as in hashes shared through ThreatExchange. */
export async function pdqOf(input: Buffer | string): Promise<PdqHash> {
  const { data, info } = await sharp(input, { failOn: 'error' })
    .resize(512, 512, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const ch = info.channels;
  const luma = new Float64Array(n);
  for (let p = 0, q = 0; p < n; p++, q += ch) {
    luma[p] = ch >= 3 ? 0.299 * (data[q] as number) + 0.587 * (data[q + 1] as number) + 0.114 * (data[q + 2] as number) : (data[q] as number);
  }
  return pdqOfLuma(luma, info.height, info.width);
}
