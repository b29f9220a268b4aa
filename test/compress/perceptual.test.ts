import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { createLogger } from '../../common/logger.js';
import { imagePath } from '../../image/store.js';
import { storeFile } from '../../store/index.js';
import { writeAtomic } from '../../common/atomic-write.js';
import { loadCompressConfig } from '../../compress/config.js';
import { perceptualRecompress } from '../../image/perceptual.js';
import { CompressWorker } from '../../compress/worker.js';
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
      const resize = (await backend.resize(readFileSync(join(FIXTURES, photo)), { size: 640, square: false }, { quality: 85, progressive: true, chromaSubsampling: '4:2:0' })).data;
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
    const tiny = await sharp(readFileSync(join(FIXTURES, 'aqua.jpg'))).resize(75, 75).jpeg({ quality: 40 }).toBuffer();
    const r = await perceptualRecompress(tiny, { target: 0.999, minQuality: 85, maxQuality: 95, progressive: true, mozjpeg: true });
    assert.equal(r.changed, false);
    assert.ok(r.data.equals(tiny));
  });

  it('leaves sizes not in perceptual.sizes alone, counting them as skipped', async () => {
    const store = mkdtempSync(join(tmpdir(), 'hearth-pq-sizes-'));
    const backend = new CpuBackend(1);
    const resize = (await backend.resize(readFileSync(join(FIXTURES, 'garden.jpg')), { size: 320, square: false }, { quality: 85, progressive: true, chromaSubsampling: '4:2:0' })).data;
    const path = imagePath(123456, 'n');
    await writeAtomic(storeFile(store, path), resize);
    const config = loadCompressConfig(undefined, { store, perceptual: { ...loadCompressConfig().perceptual, sizes: ['z', 'b'] } });
    const worker = new CompressWorker(config, { logger: createLogger('pq-test', 'silent') });
    const event = await worker.compress({ id: '123456', size: 'n', path, bytes: resize.length, width: 320, height: 213 });
    assert.equal(event, undefined);
    assert.ok(readFileSync(storeFile(store, path)).equals(resize));
    assert.ok(!existsSync(`${storeFile(store, path)}.hearth-pq.json`));
    assert.equal((await worker.metrics.images.get()).values.find((v) => v.labels.result === 'skipped')?.value, 1);
    rmSync(store, { recursive: true, force: true });
  });
});
