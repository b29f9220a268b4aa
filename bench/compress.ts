/**
 * The compression tier on the corpus's photographs, with its baselines in the same run.
 *
 * Lossless: every original through the tier's real batch (cjxl → fsync → verify →
 * rename → remove), all cores busy, against `jpegtran -optimize -copy all` (the classic
 * lossless JPEG optimiser) on the same files and cores. Byte-exactness is checked again
 * here, independently of the tier's own check: each .jxl reconstructed and compared with
 * a pristine copy of its original.
 *
 * Perceptual: every size of the ladder, made by the resize tier from each photograph,
 * through the tier's SSIM search, against a plain mozjpeg re-encode at the resize tier's
 * own quality (what a search buys over a fixed quality). Where Debian's butteraugli is
 * installed, it gives a second opinion on the kept 640s: a metric that weighs what eyes
 * see differently from SSIM, too slow (~0.7 s per 640 pair) to drive the search itself.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { quantile } from '../common/index.js';
import { recompressOriginals } from '../compress/index.js';
import { djxlReconstruct, nativeJxl, DEFAULT_PERCEPTUAL, perceptualRecompress, CpuBackend, DEFAULT_LADDER } from '../image/index.js';
import { butteraugli, parallel, table } from './common.js';

const run = promisify(execFile);
const SRC = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';
/** The resize tier's default encode: the input the perceptual tier sees. */
const RESIZE_ENCODE = { quality: 85, progressive: true, chromaSubsampling: '4:2:0' } as const;

/** The perceptual targets tried besides the configured one, and the largest size they are tried on. */
const SWEEP_TARGETS = [0.99, 0.98, 0.975, 0.97];
const SWEEP_MAX_SIZE = 1024;

const ratio = (before: number, after: number): number => +(1 - after / before).toFixed(4);

async function need(cmd: string, args: string[], pkg: string): Promise<void> {
  await run(cmd, args).catch((err: { code?: unknown }) => {
    if (err.code === 'ENOENT') throw new Error(`${cmd} is not installed (Debian ${pkg}); run infra/setup.sh`);
  });
}

async function benchLossless(photos: string[], dir: string, cores: number): Promise<Record<string, number | boolean | string>> {
  const bytes = photos.reduce((n, p) => n + statSync(p).size, 0);
  const rounds = Number(process.env.HEARTH_BENCH_ROUNDS ?? 3);
  let jpegtranBytes = 0;
  let jpegtranS = 0;
  let oursS = 0;
  let oursBytes = 0;
  let exact = 0;
  let checked = 0;
  for (let round = 0; round < rounds; round++) {
    // jpegtran: one process per file, one per core, as a batch job would run it.
    const outDir = join(dir, `jpegtran-${round}`);
    mkdirSync(outDir);
    jpegtranS += await parallel(photos, cores, async (p) => {
      await run('jpegtran', ['-optimize', '-copy', 'all', '-outfile', join(outDir, p.split('/').pop()!), p]);
    });
    if (round === 0) jpegtranBytes = readdirSync(outDir).reduce((n, f) => n + statSync(join(outDir, f)).size, 0);

    // Ours: the tier's real batch over a fresh store holding the originals.
    const store = join(dir, `store-${round}`);
    mkdirSync(join(store, 'originals'), { recursive: true });
    for (const p of photos) copyFileSync(p, join(store, 'originals', p.split('/').pop()!));
    const t0 = performance.now();
    const results = await recompressOriginals({ store, policy: {}, jobs: cores });
    oursS += (performance.now() - t0) / 1000;
    const converted = results.filter((r) => r.outcome === 'converted');
    if (converted.length !== photos.length) {
      throw new Error(`lossless tier converted ${converted.length} of ${photos.length}: ${JSON.stringify(results.filter((r) => r.outcome !== 'converted'))}`);
    }
    if (round === 0) {
      oursBytes = converted.reduce((n, r) => n + (r.bytesAfter ?? 0), 0);
      // The independent check: every .jxl through djxl (not the tier's verifier) against the pristine original.
      for (const p of photos) {
        const name = p
          .split('/')
          .pop()!
          .replace(/\.jpe?g$/i, '.jxl');
        checked++;
        if ((await djxlReconstruct(readFileSync(join(store, 'originals', name)))).equals(readFileSync(p))) exact++;
      }
    }
    rmSync(store, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  }
  const mb = (bytes * rounds) / 1e6;
  return {
    files: photos.length,
    lossless_verifier: nativeJxl() ? 'hearth-jxl' : 'djxl',
    lossless_input_mb: +(bytes / 1e6).toFixed(2),
    lossless_saved_ratio: ratio(bytes, oursBytes),
    lossless_mb_s: +(mb / oursS).toFixed(2),
    byte_exact: exact === checked && checked === photos.length,
    byte_exact_files: exact,
    jpegtran_saved_ratio: ratio(bytes, jpegtranBytes),
    jpegtran_mb_s: +(mb / jpegtranS).toFixed(2),
  };
}

interface SizeTally {
  before: number;
  after: number;
  fixed: number;
  qualities: number[];
  scores: number[];
  seconds: number;
  count: number;
}

async function benchPerceptual(
  photos: string[],
  dir: string,
  cores: number,
): Promise<{ figures: Record<string, number>; rows: Record<string, string | number>[]; sweep: Record<string, string | number>[] }> {
  const backend = new CpuBackend(1);
  const opts = DEFAULT_PERCEPTUAL;
  const bySize = new Map<string, SizeTally>(
    DEFAULT_LADDER.map((s) => [s.name, { before: 0, after: 0, fixed: 0, qualities: [], scores: [], seconds: 0, count: 0 }]),
  );
  const jobs = photos.flatMap((p) => DEFAULT_LADDER.map((s) => ({ p, s })));
  const sources = new Map<string, Buffer>();
  for (const p of photos) {
    // The 2048 source the resize tier keeps.
    sources.set(
      p,
      (await backend.resize(readFileSync(p), { size: 2048, square: false }, { quality: 92, progressive: false, chromaSubsampling: '4:4:4' })).data,
    );
  }
  const kept640: { before: Buffer; after: Buffer }[] = [];
  const thumbnails: Buffer[] = [];
  let done = 0;
  await parallel(jobs, cores, async ({ p, s }) => {
    const resize = (await backend.resize(sources.get(p)!, { size: s.size, square: s.square }, RESIZE_ENCODE)).data;
    const t0 = performance.now();
    const r = await perceptualRecompress(resize, opts);
    const t = bySize.get(s.name)!;
    t.seconds += (performance.now() - t0) / 1000;
    t.count++;
    t.before += r.bytesBefore;
    t.after += r.bytesAfter;
    t.qualities.push(r.quality);
    t.scores.push(r.score);
    const raw = await sharp(resize).raw().toBuffer({ resolveWithObject: true });
    const fixed = await sharp(raw.data, { raw: raw.info })
      .jpeg({ quality: RESIZE_ENCODE.quality, progressive: true, chromaSubsampling: '4:2:0', mozjpeg: true })
      .toBuffer();
    t.fixed += Math.min(fixed.length, resize.length);
    if (s.size === 640 && !s.square) kept640.push({ before: resize, after: r.data });
    if (s.size <= SWEEP_MAX_SIZE) thumbnails.push(resize);
    if (++done % 40 === 0) process.stderr.write(`perceptual: ${done}/${jobs.length} resizes\n`);
  });

  const rows: Record<string, string | number>[] = [];
  let before = 0;
  let after = 0;
  let fixed = 0;
  const figures: Record<string, number> = {};
  for (const s of DEFAULT_LADDER) {
    const t = bySize.get(s.name)!;
    before += t.before;
    after += t.after;
    fixed += t.fixed;
    const sorted = [...t.qualities].sort((x, y) => x - y);
    figures[`perceptual_saved_ratio_${s.name}`] = ratio(t.before, t.after);
    rows.push({
      size: `${s.name} ${s.size}${s.square ? 'sq' : ''}`,
      resizes: t.count,
      kb_before: +(t.before / t.count / 1024).toFixed(1),
      kb_after: +(t.after / t.count / 1024).toFixed(1),
      saved: `${(100 * ratio(t.before, t.after)).toFixed(1)} %`,
      fixed_q85_saved: `${(100 * ratio(t.before, t.fixed)).toFixed(1)} %`,
      median_quality: quantile(sorted, 0.5),
      min_ssim: +Math.min(...t.scores).toFixed(4),
      ms_per_resize: +((1000 * t.seconds) / t.count).toFixed(0),
    });
  }
  figures.perceptual_saved_ratio = ratio(before, after);
  figures.perceptual_fixed_quality_saved_ratio = ratio(before, fixed);
  figures.perceptual_target = opts.target;
  figures.perceptual_resizes = jobs.length;

  // Where the taste test might move the target: savings at other targets, on the sizes up to 1024 (the bulk of what is served).
  const sweep: Record<string, string | number>[] = [];
  for (const target of SWEEP_TARGETS) {
    let b = 0;
    let a = 0;
    const qualities: number[] = [];
    await parallel(thumbnails, cores, async (resize) => {
      const r = await perceptualRecompress(resize, { ...opts, target });
      b += r.bytesBefore;
      a += r.bytesAfter;
      qualities.push(r.quality);
    });
    figures[`perceptual_saved_ratio_le${SWEEP_MAX_SIZE}_at_${target}`] = ratio(b, a);
    sweep.push({
      target,
      resizes: thumbnails.length,
      saved: `${(100 * ratio(b, a)).toFixed(1)} %`,
      median_quality: quantile(
        qualities.sort((x, y) => x - y),
        0.5,
      ),
    });
  }

  if (
    await run('butteraugli', []).then(
      () => true,
      (e: { code?: unknown }) => e.code !== 'ENOENT',
    )
  ) {
    const distances: number[] = [];
    for (const k of kept640) distances.push(await butteraugli(dir, sharp(k.before), sharp(k.after)));
    distances.sort((x, y) => x - y);
    figures.butteraugli_640_median = +quantile(distances, 0.5).toFixed(2);
    figures.butteraugli_640_max = +(distances[distances.length - 1] ?? 0).toFixed(2);
  }
  return { figures, rows, sweep };
}

export async function benchCompress(): Promise<Record<string, unknown>> {
  const cores = availableParallelism();
  if (!existsSync(SRC)) throw new Error(`no photographs in ${SRC}; run infra/setup.sh first`);
  await need('cjxl', ['--version'], 'libjxl-tools');
  await need('jpegtran', ['-version'], 'libjpeg-turbo-progs');
  const photos = readdirSync(SRC)
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .map((f) => join(SRC, f));
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-compress-'));
  try {
    process.stderr.write(`compress benchmark: ${cores} cores, ${photos.length} photographs\n`);
    const lossless = await benchLossless(photos, dir, cores);
    process.stderr.write(
      `\nlossless, ${lossless.files} originals (${lossless.lossless_input_mb} MB): JPEG XL saves ${(100 * Number(lossless.lossless_saved_ratio)).toFixed(1)} % at ${lossless.lossless_mb_s} MB/s ` +
        `(cjxl + ${lossless.lossless_verifier} verify + fsync), jpegtran -optimize saves ${(100 * Number(lossless.jpegtran_saved_ratio)).toFixed(1)} % at ${lossless.jpegtran_mb_s} MB/s ` +
        `(${(100 * (Number(lossless.lossless_saved_ratio) - Number(lossless.jpegtran_saved_ratio))).toFixed(1)} points more saved, at ${(Number(lossless.lossless_mb_s) / Number(lossless.jpegtran_mb_s)).toFixed(2)}× its speed); byte-exact ${lossless.byte_exact_files}/${lossless.files}\n\n`,
    );
    const perceptual = await benchPerceptual(photos, dir, cores);
    const f = perceptual.figures;
    process.stderr.write(
      `\n${table(perceptual.rows)}\n\nperceptual at SSIM ≥ ${f.perceptual_target}: ${(100 * (f.perceptual_saved_ratio ?? 0)).toFixed(1)} % saved over ${f.perceptual_resizes} resizes ` +
        `(a fixed mozjpeg q85 re-encode: ${(100 * (f.perceptual_fixed_quality_saved_ratio ?? 0)).toFixed(1)} %)` +
        (f.butteraugli_640_median !== undefined ? `; butteraugli on the 640s: median ${f.butteraugli_640_median}, max ${f.butteraugli_640_max}` : '') +
        '\n',
    );
    process.stderr.write(`\nother targets, sizes up to ${SWEEP_MAX_SIZE} px:\n${table(perceptual.sweep)}\n`);
    return { bench: 'compress', cores, ...lossless, ...perceptual.figures };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
