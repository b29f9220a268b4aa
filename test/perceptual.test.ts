import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { perceptualRecompress } from '../compress/perceptual.js';
import { CpuBackend } from '../resize/cpu-backend.js';
import { FIXTURES } from './helpers/test-stack.js';

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
});
