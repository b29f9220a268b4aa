/**
 * PDQ on real photographs: what a site does to a photo (resize, recompress, crop a
 * little) stays within the match threshold; different photographs stay far apart.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { PDQ_MATCH_THRESHOLD, hamming, pdqOf, pdqOfLuma } from '../../identity/pdq.js';
import { FIXTURES } from '../helpers/test-stack.js';

const FETCHED = fileURLToPath(new URL('../../../.cache/photos/src', import.meta.url));
const jpegs = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.jpe?g$/i.test(f))
        .sort()
        .map((f) => join(dir, f))
    : [];

describe('PDQ perceptual hash', function () {
  this.timeout(120_000);
  // The photographs setup fetches (24); the fixtures (made from some of them) otherwise.
  const photos = jpegs(FETCHED).length > 0 ? jpegs(FETCHED) : jpegs(FIXTURES);

  it('is 256 bits with a quality; a flat image has quality 0', async () => {
    const h = await pdqOf(photos[0]!);
    assert.equal(h.hash.length, 32);
    assert.match(h.hex, /^[0-9a-f]{64}$/);
    assert.ok(h.quality >= 50, `a photograph's quality: ${h.quality}`);
    assert.equal(pdqOfLuma(new Float64Array(100 * 80).fill(128), 80, 100).quality, 0);
  });

  it('keeps resizes and recompressions of every photograph within the match threshold', async () => {
    const worst: Record<string, number> = {};
    for (const p of photos) {
      const base = await pdqOf(p);
      const { width } = await sharp(p).metadata();
      const variants: Record<string, Buffer> = {
        'half size': await sharp(p)
          .resize(Math.round(width / 2))
          .jpeg({ quality: 85 })
          .toBuffer(),
        // The ladder's z size. (At 240 px the fetched photographs were 2–54 bits away, median 19:
        // the threshold is not meant for thumbnails that small.)
        'z size, 640': await sharp(p).resize(640).jpeg({ quality: 80 }).toBuffer(),
        'quality 40': await sharp(p).jpeg({ quality: 40 }).toBuffer(),
      };
      for (const [name, data] of Object.entries(variants)) worst[name] = Math.max(worst[name] ?? 0, hamming(base.hash, (await pdqOf(data)).hash));
    }
    for (const [name, d] of Object.entries(worst)) assert.ok(d <= PDQ_MATCH_THRESHOLD, `${name}: distance up to ${d} over ${photos.length} photographs`);
  });

  it('keeps a typical 1 % crop within the threshold (PDQ is crop-sensitive: docs/identity.md has the figures)', async () => {
    const distances: number[] = [];
    for (const p of photos) {
      const { width, height } = await sharp(p).metadata();
      const [w, h] = [width, height];
      const cropped = await sharp(p)
        .extract({ left: Math.round(w * 0.01), top: Math.round(h * 0.01), width: Math.round(w * 0.98), height: Math.round(h * 0.98) })
        .jpeg({ quality: 85 })
        .toBuffer();
      distances.push(hamming((await pdqOf(p)).hash, (await pdqOf(cropped)).hash));
    }
    const median = [...distances].sort((a, b) => a - b)[Math.floor(distances.length / 2)] as number;
    assert.ok(median <= PDQ_MATCH_THRESHOLD, `median distance of a 1 % crop: ${median} (all: ${distances.join(', ')})`);
  });

  it('keeps different photographs apart', async () => {
    const hashes = await Promise.all(photos.map((p) => pdqOf(p)));
    let closest = 256;
    for (let i = 0; i < hashes.length; i++) for (let j = i + 1; j < hashes.length; j++) closest = Math.min(closest, hamming(hashes[i]!.hash, hashes[j]!.hash));
    assert.ok(closest > PDQ_MATCH_THRESHOLD, `two different photographs at distance ${closest}`);
  });

  it('counts differing bits', () => {
    const a = Buffer.alloc(32);
    const b = Buffer.alloc(32);
    b[0] = 0xff;
    b[31] = 0x01;
    assert.equal(hamming(a, b), 9);
    assert.equal(hamming(Buffer.alloc(32, 0xff), a), 256);
  });

  it("refuses what is not an image, with the decoder's reason", async () => {
    await assert.rejects(pdqOf(Buffer.from('not an image')), /unsupported image format|Input buffer/);
  });
});
