/**
 * The AVIF and WebP the resize tier stores beside each size's JPEG: made from the same
 * resize, each at the lowest quality that scores as the stored JPEG does against it.
 * Checked from outside: the test makes the resize again, scores what was stored, and
 * encodes one quality lower.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { createLogger } from '../../common/logger.js';
import { CpuBackend } from '../../image/cpu-backend.js';
import { storedEncoding } from '../../image/formats.js';
import { DEFAULT_LADDER, sourceSize } from '../../image/ladder.js';
import { ssimAgainst, VARIANT_META } from '../../image/perceptual.js';
import { imagePath, originalPath, variantPath } from '../../image/store.js';
import { loadResizeConfig } from '../../resize/config.js';
import { ResizeWorker } from '../../resize/worker.js';
import { openStore, storeFile } from '../../store/index.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { phoneHeic } from '../helpers/heif.js';

describe('resize tier: variants at each image quality', function () {
  this.timeout(120000);
  const backend = new CpuBackend(1);

  function worker(overrides: Record<string, unknown>) {
    const store = mkdtempSync(join(tmpdir(), 'hearth-variants-'));
    const w = new ResizeWorker(loadResizeConfig(undefined, { store, log: { level: 'silent' }, ...overrides }), {
      logger: createLogger('resize-test', 'silent'),
    });
    const put = (id: string, original: Buffer) => {
      mkdirSync(dirname(storeFile(store, originalPath(id))), { recursive: true });
      writeFileSync(storeFile(store, originalPath(id)), original);
    };
    return { store, w, put };
  }
  const read = (store: string, path: string) => readFileSync(storeFile(store, path));
  const count = async (w: ResizeWorker, result: string) =>
    (await w.metrics.variants.get()).values.filter((v) => v.labels.result === result).reduce((a, v) => a + v.value, 0);

  it('stores each chosen size as AVIF and WebP beside its JPEG, each the lowest quality that scores as the JPEG does against the same resize, and smaller', async () => {
    const sizes = ['z', 'n', 's'];
    const { store, w, put } = worker({ variants: { sizes } });
    const original = readFileSync(join(FIXTURES, 'garden.jpg'));
    put('7100001', original);
    await w.resizeAll({ id: '7100001', source: originalPath('7100001') });
    const config = w.config;
    // The resize again, as the tier makes it: the 2048 px JPEG source, then the size.
    const source = await backend.resize(original, sourceSize(DEFAULT_LADDER), config.jpeg);
    const meta = openStore(store);
    for (const name of sizes) {
      const spec = DEFAULT_LADDER.find((s) => s.name === name)!;
      const prepared = await backend.prepare(source.data, spec);
      const reference = await prepared.reference();
      const jpeg = read(store, imagePath('7100001', name));
      const target = await ssimAgainst(reference, jpeg);
      for (const format of ['avif', 'webp'] as const) {
        const v = read(store, variantPath('7100001', name, format));
        const what = `${name} ${format}`;
        assert.equal(storedEncoding(v), format, `${what}: smaller than the JPEG for this photo, so its own encoding`);
        assert.ok(v.length < jpeg.length, what);
        const m = await sharp(v).metadata();
        assert.deepEqual([m.width, m.height], [prepared.width, prepared.height], what);
        const found = JSON.parse((await meta.head(variantPath('7100001', name, format)))!.meta[VARIANT_META]!) as {
          quality: number;
          score: number;
          target: number;
        };
        assert.ok(Math.abs(found.target - target) < 1e-9, `${what}: the target is the stored JPEG's own score`);
        const score = await ssimAgainst(reference, v);
        assert.ok(score >= target, `${what}: ${score} ≥ ${target}`);
        assert.equal(score, found.score);
        // The lowest: one quality less scores below the JPEG.
        const lower = await prepared.encode({ format, quality: found.quality - 1, effort: config.variants[format].effort });
        assert.ok((await ssimAgainst(reference, lower)) < target, `${what}: q${found.quality - 1} is below the target`);
      }
    }
    // Only the chosen sizes.
    assert.throws(() => read(store, variantPath('7100001', 'b', 'avif')), /ENOENT/);
    assert.equal(await count(w, 'created'), sizes.length * 2);
    const bytes = (await w.metrics.variantBytes.get()).values.find((v) => v.labels.format === 'avif')!.value;
    const beside = (await w.metrics.variantJpegBytes.get()).values.find((v) => v.labels.format === 'avif')!.value;
    assert.ok(bytes < beside);
    // Redelivered: nothing searched again, nothing rewritten.
    const before = read(store, variantPath('7100001', 'z', 'avif'));
    await w.resizeAll({ id: '7100001', source: originalPath('7100001') });
    assert.equal(await count(w, 'exists'), sizes.length * 2);
    assert.ok(read(store, variantPath('7100001', 'z', 'avif')).equals(before));
    await meta.close();
  });

  it('keeps the JPEG for a class whose encoding is not smaller at the same score, and a wide-gamut photo keeps its profile in every encoding', async () => {
    // WebP only at quality 100: larger than the JPEG, so the class's object is the JPEG.
    const { store, w, put } = worker({ variants: { sizes: ['n'], webp: { minQuality: 100, maxQuality: 100 } } });
    put('7100002', await phoneHeic('garden.jpg', { icc: 'p3' }));
    await w.resizeAll({ id: '7100002', source: originalPath('7100002') });
    const jpeg = read(store, imagePath('7100002', 'n'));
    const webp = read(store, variantPath('7100002', 'n', 'webp'));
    assert.ok(webp.equals(jpeg));
    assert.equal(await count(w, 'jpeg'), 1);
    const avif = read(store, variantPath('7100002', 'n', 'avif'));
    assert.equal(storedEncoding(avif), 'avif');
    const icc = (await sharp(jpeg).metadata()).icc;
    assert.ok(icc, 'the JPEG keeps the P3 profile');
    assert.ok((await sharp(avif).metadata()).icc?.equals(icc), 'the AVIF keeps the same profile');
  });
});
