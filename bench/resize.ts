/**
 * Resize throughput, our CPU backend (sharp/libvips) against GraphicsMagick in the
 * same run, both keeping every core busy: 2048 → 1600 and 2048 → 640, Lanczos with a
 * mild sharpen on both sides, JPEG quality 85. Also the quality parity: SSIM of our
 * 1600 against GraphicsMagick's (ssim.js, full resolution, Bezkrovny).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { CpuBackend } from '../image/index.js';
import { parallel, table } from './common.js';

const run = promisify(execFile);
const ENCODE = { quality: 85, progressive: false, chromaSubsampling: '4:2:0' } as const;
const SRC = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';

export async function benchResize(): Promise<Record<string, unknown>> {
  const cores = availableParallelism();
  if (!existsSync(SRC)) throw new Error(`no photographs in ${SRC}; run infra/setup.sh first`);
  await run('gm', ['version']).catch(() => {
    throw new Error('GraphicsMagick (gm) is not installed; run infra/setup.sh');
  });
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-resize-'));
  mkdirSync(join(dir, 'gm'));
  // The 2048 px sources, as the resize tier keeps them.
  const photos = readdirSync(SRC)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, 16);
  const sources: string[] = [];
  for (const p of photos) {
    const out = join(dir, p.replace(/\.jpg$/, '_2048.jpg'));
    await sharp(join(SRC, p)).rotate().resize(2048, 2048, { fit: 'inside' }).jpeg({ quality: 92 }).toFile(out);
    sources.push(out);
  }
  const rounds = Number(process.env.HEARTH_BENCH_ROUNDS ?? 3);
  const inputs = Array.from({ length: rounds }, () => sources).flat();
  process.stderr.write(`resize benchmark: ${cores} cores, ${sources.length} photographs × ${rounds} rounds, ${cores} lanes on each side\n`);

  // Ours: the resize tier's defaults, one image per core and 2 libvips threads each
  // (jobs × threads measured at 2×1 26.8, 1×2 22.5, 2×2 28.6, 3×1 28.7 images/s for 2048→1600 on 2 cores).
  const backend = new CpuBackend(2);
  const buffers = new Map(sources.map((s) => [s, readFileSync(s)]));
  const ours = async (size: number): Promise<number> => {
    await backend.resize(buffers.get(sources[0]!)!, { size, square: false }, ENCODE); // warm-up
    return parallel(inputs, cores, async (s) => {
      await backend.resize(buffers.get(s)!, { size, square: false }, ENCODE);
    });
  };
  // GraphicsMagick: one process per image, as image pipelines run it, one per core.
  const gm = (size: number, keep = false): Promise<number> =>
    parallel(inputs, cores, async (s) => {
      const out = keep ? join(dir, 'gm', `${size}_${s.split('/').pop()}`) : '/dev/null';
      await run('gm', [
        'convert',
        s,
        '-filter',
        'Lanczos',
        '-resize',
        `${size}x${size}`,
        '-unsharp',
        '0x0.75+0.75+0.008',
        '-quality',
        '85',
        keep ? out : `jpeg:${out}`,
      ]);
    });

  const rows: Record<string, string | number>[] = [];
  const figures: Record<string, number> = {};
  for (const size of [1600, 640]) {
    const tOurs = await ours(size);
    const tGm = await gm(size);
    const n = inputs.length;
    const oursRate = n / tOurs;
    const gmRate = n / tGm;
    // Per-image time with the machine fully loaded: cores × wall / images.
    figures[`ms_${size}`] = +((tOurs * 1000 * cores) / n).toFixed(1);
    figures[`gm_ms_${size}`] = +((tGm * 1000 * cores) / n).toFixed(1);
    figures[`images_per_s_${size}`] = +oursRate.toFixed(1);
    figures[`gm_images_per_s_${size}`] = +gmRate.toFixed(1);
    figures[`ratio_vs_gm_${size}`] = +(oursRate / gmRate).toFixed(2);
    rows.push({
      size: `2048→${size}`,
      hearth_ms: figures[`ms_${size}`]!,
      hearth_img_s: figures[`images_per_s_${size}`]!,
      gm_ms: figures[`gm_ms_${size}`]!,
      gm_img_s: figures[`gm_images_per_s_${size}`]!,
      ratio: figures[`ratio_vs_gm_${size}`]!,
    });
  }

  // Quality parity at 1600: SSIM of ours against GraphicsMagick's, full resolution.
  await gm(1600, true);
  const scores: number[] = [];
  for (const s of sources) {
    const mine = await backend.resize(buffers.get(s)!, { size: 1600, square: false }, ENCODE);
    const theirs = join(dir, 'gm', `1600_${s.split('/').pop()}`);
    const a = await sharp(mine.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const b = await sharp(theirs).resize(a.info.width, a.info.height, { fit: 'fill' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const img = (x: typeof a) => ({
      data: new Uint8ClampedArray(x.data.buffer, x.data.byteOffset, x.data.length),
      width: x.info.width,
      height: x.info.height,
      colorSpace: 'srgb' as const,
    });
    scores.push(ssim(img(a), img(b), { ssim: 'bezkrovny', downsample: false }).mssim);
  }
  figures.ssim_vs_gm_1600_mean = +(scores.reduce((x, y) => x + y, 0) / scores.length).toFixed(4);
  figures.ssim_vs_gm_1600_min = +Math.min(...scores).toFixed(4);
  process.stdout.write(
    `\n${table(rows)}\n\nSSIM of our 2048→1600 against GraphicsMagick's: mean ${figures.ssim_vs_gm_1600_mean}, min ${figures.ssim_vs_gm_1600_min} over ${scores.length} photographs\n`,
  );
  return { bench: 'resize', cores, photos: sources.length, ...figures };
}
