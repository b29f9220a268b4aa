/**
 * The taste test's material, made by the real tiers: each photograph through the resize
 * tier (its 2048 source, then the size under test, at the resize tier's encode), then
 * through the perceptual tier at the target under test. The store cannot supply it: the
 * perceptual tier replaces resizes in place, so the version before compression is gone.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { perceptualRecompress, type PerceptualOptions } from '../image/index.js';
import type { EncodeOptions, ResizeBackend, SizeSpec } from '../image/index.js';

export interface TastePair {
  image: string;
  size: string;
  target: number;
  quality: number;
  score: number;
  /** The resize as the resize tier writes it. */
  original: Buffer;
  /** The same after the perceptual tier. */
  compressed: Buffer;
}

export interface PairOptions {
  photos: string[];
  size: SizeSpec;
  backend: ResizeBackend;
  encode: EncodeOptions;
  perceptual: PerceptualOptions;
  onProgress?: (done: number, total: number) => void;
}

/** Photographs the perceptual tier would leave unchanged make no "different" pair and are left out. */
export async function makePairs(o: PairOptions): Promise<{ pairs: TastePair[]; unchanged: string[] }> {
  const pairs: TastePair[] = [];
  const unchanged: string[] = [];
  let done = 0;
  for (const photo of o.photos) {
    const image = basename(photo);
    const source = await o.backend.resize(
      await readFile(photo),
      { size: 2048, square: false },
      { quality: 92, progressive: false, chromaSubsampling: '4:4:4' },
    );
    const original = (await o.backend.resize(source.data, { size: o.size.size, square: o.size.square }, o.encode)).data;
    const r = await perceptualRecompress(original, o.perceptual);
    if (r.changed) pairs.push({ image, size: o.size.name, target: o.perceptual.target, quality: r.quality, score: r.score, original, compressed: r.data });
    else unchanged.push(image);
    o.onProgress?.(++done, o.photos.length);
  }
  return { pairs, unchanged };
}
