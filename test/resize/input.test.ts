/** What the resize tier takes as a source, decided by content; what it makes, never enlarged. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createLogger } from '../../common/logger.js';
import { PermanentFailure } from '../../kafka/worker.js';
import { CorruptImageError } from '../../image/backend.js';
import { loadResizeConfig } from '../../resize/config.js';
import { CpuBackend } from '../../image/cpu-backend.js';
import { DEFAULT_LADDER } from '../../image/ladder.js';
import { ResizeWorker } from '../../resize/worker.js';
import { FIXTURES } from '../helpers/test-stack.js';

const ENCODE = { quality: 85, progressive: true, chromaSubsampling: '4:2:0' } as const;

describe('resize tier inputs', function () {
  this.timeout(30000);
  const backend = new CpuBackend(1);
  const photo = readFileSync(join(FIXTURES, 'ladybird.jpg'));

  it('refuses a PNG (or anything else) named .jpg as a corrupt source, by its content', async () => {
    const png = await sharp(photo).resize(200).png().toBuffer();
    const webp = await sharp(photo).resize(200).webp().toBuffer();
    for (const [what, data] of [
      ['png', png],
      ['webp', webp],
    ] as const) {
      await assert.rejects(
        backend.resize(data, { size: 150, square: true }, ENCODE),
        (err: Error) => err instanceof CorruptImageError && err.message.includes(`its content is ${what}`),
        what,
      );
    }
  });

  it('never enlarges: a 64 px source gives 64 px squares and keeps its size for every larger rung', async () => {
    const small = await sharp(photo).resize(64, 48, { fit: 'fill' }).jpeg().toBuffer();
    for (const spec of DEFAULT_LADDER) {
      const out = await backend.resize(small, spec, ENCODE);
      const m = await sharp(out.data).metadata();
      if (spec.square) assert.deepEqual([m.width, m.height], [48, 48], spec.name);
      // Every non-square rung (240 px and up) is larger than the source.
      else assert.deepEqual([m.width, m.height], [64, 48], spec.name);
    }
  });

  it('crops a square from the picture as seen: EXIF orientation first, then the shorter side', async () => {
    // 80×60 stored, orientation 6 (rotate 90°): 60×80 as seen, so a 75 px square is 60×60.
    const rotated = await sharp(photo).resize(80, 60, { fit: 'fill' }).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const q = await backend.resize(rotated, { size: 75, square: true }, ENCODE);
    assert.deepEqual([q.width, q.height], [60, 60]);
    const n = await backend.resize(rotated, { size: 320, square: false }, ENCODE);
    assert.deepEqual([n.width, n.height], [60, 80]);
  });

  it('does not read an original through a link that leaves the store', async () => {
    const store = mkdtempSync(join(tmpdir(), 'hearth-resize-in-'));
    const outside = join(mkdtempSync(join(tmpdir(), 'hearth-outside-')), 'secret.jpg');
    writeFileSync(outside, photo);
    mkdirSync(join(store, 'originals', '1'), { recursive: true });
    symlinkSync(outside, join(store, 'originals', '1', '100.jpg'));
    const w = new ResizeWorker(loadResizeConfig(undefined, { store, log: { level: 'silent' } }), { logger: createLogger('resize-test', 'silent') });
    await assert.rejects(
      w.resizeAll({ id: '100', source: '/originals/1/100.jpg' }),
      (err: Error) => err instanceof PermanentFailure && err.reason === 'missing_source' && /leaves the store/.test(err.message),
    );
  });
});
