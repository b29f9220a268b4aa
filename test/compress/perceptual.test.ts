import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { createLogger } from '../../common/logger.js';
import { imagePath } from '../../image/store.js';
import { DirStore, storeFile } from '../../store/index.js';
import { writeAtomic } from '../../common/atomic-write.js';
import { loadCompressConfig } from '../../compress/config.js';
import { perceptualRecompress } from '../../image/perceptual.js';
import { PerceptualWorker } from '../../compress/perceptual-worker.js';
import { MARKER_META } from '../../image/perceptual.js';
import { CpuBackend } from '../../image/cpu-backend.js';
import { FIXTURES } from '../helpers/test-stack.js';

async function raw(jpeg: Buffer) {
  const { data, info } = await sharp(jpeg).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

describe('perceptual compression of resizes', function () {
  this.timeout(60000);

  it('finds a lower quality that keeps SSIM at the target, on real photographs', async () => {
    const backend = new CpuBackend(1);
    for (const photo of ['garden.jpg', 'ladybird.jpg']) {
      const resize = (
        await backend.resize(readFileSync(join(FIXTURES, photo)), { size: 640, square: false }, { quality: 85, progressive: true, chromaSubsampling: '4:2:0' })
      ).data;
      const r = await perceptualRecompress(resize, { target: 0.985, minQuality: 40, maxQuality: 90, progressive: true, mozjpeg: true });
      assert.ok(r.changed, `${photo}: nothing saved`);
      assert.ok(r.bytesAfter < r.bytesBefore);
      assert.ok(r.quality >= 40 && r.quality <= 90, `${photo}: quality ${r.quality}`);
      // Check the claim independently.
      const score = ssim(await raw(resize), await raw(r.data), { ssim: 'bezkrovny', downsample: false }).mssim;
      assert.ok(score >= 0.985, `${photo}: SSIM ${score}`);
      assert.equal(+score.toFixed(6), +r.score.toFixed(6));
    }
  });

  it('keeps the input when no quality in range would be smaller (no generation loss for nothing)', async () => {
    const tiny = await sharp(readFileSync(join(FIXTURES, 'aqua.jpg')))
      .resize(75, 75)
      .jpeg({ quality: 40 })
      .toBuffer();
    const r = await perceptualRecompress(tiny, { target: 0.999, minQuality: 85, maxQuality: 95, progressive: true, mozjpeg: true });
    assert.equal(r.changed, false);
    assert.ok(r.data.equals(tiny));
  });

  it('leaves sizes not in perceptual.sizes alone, counting them as skipped', async () => {
    const store = mkdtempSync(join(tmpdir(), 'hearth-pq-sizes-'));
    const backend = new CpuBackend(1);
    const resize = (
      await backend.resize(
        readFileSync(join(FIXTURES, 'garden.jpg')),
        { size: 320, square: false },
        { quality: 85, progressive: true, chromaSubsampling: '4:2:0' },
      )
    ).data;
    const path = imagePath(123456, 'n');
    await writeAtomic(storeFile(store, path), resize);
    const config = loadCompressConfig(undefined, { store, perceptual: { ...loadCompressConfig().perceptual, sizes: ['z', 'b'] } });
    const worker = new PerceptualWorker(config, { logger: createLogger('pq-test', 'silent') });
    const event = await worker.compress({ id: '123456', size: 'n', path, bytes: resize.length, width: 320, height: 213 });
    assert.equal(event, undefined);
    assert.ok(readFileSync(storeFile(store, path)).equals(resize));
    assert.deepEqual((await new DirStore(store).head(path))?.meta, {}, 'no marker');
    assert.equal((await worker.metrics.images.get()).values.find((v) => v.labels.result === 'skipped')?.value, 1);
    rmSync(store, { recursive: true, force: true });
  });

  it("keeps its marker in the resize's metadata, written with the output; honours a marker a store written before keeps in a sidecar", async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-pq-marker-'));
    const store = new DirStore(root);
    const backend = new CpuBackend(1);
    const resize = (
      await backend.resize(
        readFileSync(join(FIXTURES, 'garden.jpg')),
        { size: 640, square: false },
        { quality: 92, progressive: true, chromaSubsampling: '4:2:0' },
      )
    ).data;
    const path = imagePath(123457, 'z');
    await store.put(path, resize);
    const worker = new PerceptualWorker(loadCompressConfig(undefined, { store: root }), { logger: createLogger('pq-test', 'silent') });
    const event = { id: '123457', size: 'z', path, bytes: resize.length, width: 640, height: 427 };
    const first = await worker.compress(event);
    const output = await store.get(path);
    const marker = JSON.parse((await store.head(path))!.meta[MARKER_META]!) as { outputSha: string; bytesAfter: number };
    assert.equal(marker.outputSha, createHash('sha256').update(output).digest('hex'));
    assert.equal(marker.bytesAfter, first?.bytesAfter);
    assert.equal(await store.head(`${path}.hearth-pq.json`), undefined, 'no sidecar written');
    await worker.compress(event);
    assert.ok((await store.get(path)).equals(output), 'a redelivery leaves the output as it is');
    // A store from before: the output in place, its marker in a sidecar, no metadata.
    await store.put(path, output);
    await store.put(`${path}.hearth-pq.json`, Buffer.from(JSON.stringify({ ...marker, quality: 80, score: 0.99, inputSha: 'x', bytesBefore: resize.length })));
    await worker.compress(event);
    assert.ok((await store.get(path)).equals(output));
    const already = (await worker.metrics.images.get()).values.find((v) => v.labels.result === 'already')?.value;
    assert.equal(already, 2, 'the redelivery and the sidecar-marked file were both recognised');
    rmSync(root, { recursive: true, force: true });
  });
});
