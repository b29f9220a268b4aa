/**
 * AVIF and WebP against JPEG at equal score, on the real photographs, every size of the
 * ladder, one core. For each photo and size: one decode and one Lanczos pass (as the
 * resize backend makes a size) give the uncompressed resize; then, per format, the
 * perceptual tier's own method: the lowest quality whose SSIM against that resize stays
 * at or above the target (`lowestPassing`), so every encoding of a size looks the same.
 * The baseline in the same run is the JPEG found the same way (mozjpeg, as the perceptual
 * pass stores it). Butteraugli (Debian's) is the second opinion on the kept variants.
 *
 * Also: each format's encode time at the quality the origin is configured with
 * (image/formats.ts) and the score that quality gives, since the origin encodes a
 * variant once per cache miss; the lowest AVIF and WebP quality that scores as the
 * origin's JPEG (q85) does, which is how the origin's qualities are chosen; and the
 * share of bytes a browser population saves (`HEARTH_BENCH_MIX`, default a
 * current-browser mix).
 *
 * JPEG XL for `image/jxl` is measured, not served: the kept JPEG of each size
 * recompressed losslessly by cjxl (the lossless tier's transcode: the same pixels), its
 * bytes and time. And a phone's HEIC in: each photo at full size as a HEIC (Debian's
 * heif-enc), decoded as the tiers decode an original (`decodeOriginal`: libheif's
 * heif-convert, then sharp) against a full decode of its JPEG.
 *
 * And the resize tier as built (`tier_*`): what its per-image search of each stored
 * size's AVIF and WebP costs an upload and saves, against the same tier without them.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import {
  DECODE_OPTIONS,
  DEFAULT_LADDER,
  DEFAULT_PERCEPTUAL,
  DEFAULT_VARIANT_ENCODE,
  FORMAT_CLASSES,
  decodeOriginal,
  transcodeJpeg,
  lowestPassing,
  originalPath,
  ssimAgainst,
  type FormatClass,
  type SizeSpec,
} from '../image/index.js';
import { createLogger } from '../common/index.js';
import { loadResizeConfig, ResizeWorker } from '../resize/index.js';
import { butteraugli, table } from './common.js';

const run = promisify(execFile);
const SRC = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';
/** The first photos of the corpus by name (about 100 s each on one core here). */
const PHOTOS = Number(process.env.HEARTH_BENCH_FORMATS_PHOTOS ?? 5);
/**
 * Shares of views by format class: Chromium-based browsers, Firefox and Safari 16.4+
 * take AVIF; a Safari before 16.4 takes WebP; the rest (old or unknown clients) JPEG.
 * An assumption, stated: set it from your own logs.
 */
const MIX = Object.fromEntries(
  (process.env.HEARTH_BENCH_MIX ?? 'avif:0.9,webp:0.05,jpeg:0.05').split(',').map((kv) => {
    const [k, v] = kv.split(':');
    return [k, Number(v)];
  }),
) as Record<FormatClass, number>;

interface Raw {
  data: Buffer;
  width: number;
  height: number;
}

/** The uncompressed resize: the pixels every encoding of the size is made from. */
async function resized(input: Buffer, spec: SizeSpec): Promise<Raw> {
  const { data, info } = await sharp(input, DECODE_OPTIONS)
    .rotate()
    .resize(spec.size, spec.size, { fit: spec.square ? 'cover' : 'inside', kernel: 'lanczos3', withoutEnlargement: true })
    .sharpen()
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function encoder(raw: Raw, format: FormatClass): (q: number) => Promise<Buffer> {
  const img = () => sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 } }).removeAlpha();
  if (format === 'avif') return (q) => img().avif({ quality: q, effort: DEFAULT_VARIANT_ENCODE.avif.effort, chromaSubsampling: '4:2:0' }).toBuffer();
  if (format === 'webp') return (q) => img().webp({ quality: q, effort: DEFAULT_VARIANT_ENCODE.webp.effort, smartSubsample: true }).toBuffer();
  return (q) => img().jpeg({ quality: q, progressive: true, chromaSubsampling: '4:2:0', mozjpeg: true }).toBuffer();
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * The resize tier as built, on one core: each photo resized by a ResizeWorker with its
 * defaults (every stored size, then each size's AVIF and WebP at the quality searched
 * for that photo), against the same worker without variants in the same run (the
 * baseline: the JPEG sizes and their perceptual pass). Its own metrics say what the
 * searches cost and what they kept.
 */
async function resizeTierVariants(photos: string[]) {
  const seconds = { jpeg: [] as number[], avif: 0, webp: 0 };
  const bytes = { avif: 0, webp: 0, avifJpeg: 0, webpJpeg: 0 };
  const kept = { avif: 0, webp: 0 };
  const quality = { avif: [] as number[], webp: [] as number[] };
  for (const [i, p] of photos.entries()) {
    const input = readFileSync(join(SRC, p));
    for (const variants of [false, true]) {
      const store = mkdtempSync(join(tmpdir(), 'hearth-bench-tier-'));
      try {
        const id = String(9_000_000 + i);
        mkdirSync(dirname(join(store, originalPath(id))), { recursive: true });
        writeFileSync(join(store, originalPath(id)), input);
        const w = new ResizeWorker(
          loadResizeConfig(undefined, { store, threadsPerJob: 1, log: { level: 'silent' }, ...(variants ? {} : { variants: { formats: [] } }) }),
          { logger: createLogger('bench', 'silent') },
        );
        const t0 = performance.now();
        await w.resizeAll({ id, source: originalPath(id) });
        const took = (performance.now() - t0) / 1000;
        if (!variants) {
          seconds.jpeg.push(took);
          continue;
        }
        for (const v of (await w.metrics.variantSeconds.get()).values)
          if (v.metricName?.endsWith('_sum')) seconds[v.labels.format as 'avif' | 'webp'] += v.value;
        for (const v of (await w.metrics.variantBytes.get()).values) bytes[v.labels.format as 'avif' | 'webp'] += v.value;
        for (const v of (await w.metrics.variantJpegBytes.get()).values) bytes[`${v.labels.format as 'avif' | 'webp'}Jpeg`] += v.value;
        for (const v of (await w.metrics.variants.get()).values) if (v.labels.result === 'jpeg') kept[v.labels.format as 'avif' | 'webp'] += v.value;
        for (const v of (await w.metrics.variantQuality.get()).values)
          if (v.metricName?.endsWith('_sum') && v.labels.size === 'b') quality[v.labels.format as 'avif' | 'webp'].push(v.value);
      } finally {
        rmSync(store, { recursive: true, force: true });
      }
    }
  }
  const n = photos.length;
  return {
    tier_jpeg_s_per_upload: round(median(seconds.jpeg), 2),
    tier_avif_s_per_upload: round(seconds.avif / n, 2),
    tier_webp_s_per_upload: round(seconds.webp / n, 2),
    tier_avif_saved_ratio: round(1 - bytes.avif / bytes.avifJpeg),
    tier_webp_saved_ratio: round(1 - bytes.webp / bytes.webpJpeg),
    tier_avif_jpeg_kept: kept.avif,
    tier_webp_jpeg_kept: kept.webp,
    tier_avif_quality_p50_1024: median(quality.avif),
    tier_webp_quality_p50_1024: median(quality.webp),
  };
}

export async function benchFormats(): Promise<Record<string, unknown>> {
  sharp.concurrency(1);
  const photos = readdirSync(SRC)
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .slice(0, PHOTOS);
  const target = DEFAULT_PERCEPTUAL.target;
  process.stderr.write(
    `formats benchmark: ${photos.length} photographs × ${DEFAULT_LADDER.length} sizes, one core, SSIM target ${target}; mix ${JSON.stringify(MIX)}\n`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-formats-'));
  let haveButteraugli = true;
  await run('butteraugli', []).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') haveButteraugli = false;
  });
  // Per size and format: bytes at equal score, the quality found, encode ms at the configured quality, and its score.
  type Cell = {
    bytes: number[];
    quality: number[];
    encodeMs: number[];
    configuredScore: number[];
    configuredBytes: number[];
    butteraugli: number[];
    /** The lowest quality that scores as the origin's JPEG (q85) of the same size does. */
    asJpegQuality: number[];
  };
  const cells = new Map<string, Cell>();
  const cell = (size: string, f: FormatClass): Cell => {
    const k = `${size} ${f}`;
    let c = cells.get(k);
    if (!c) cells.set(k, (c = { bytes: [], quality: [], encodeMs: [], configuredScore: [], configuredBytes: [], butteraugli: [], asJpegQuality: [] }));
    return c;
  };
  // JPEG XL of each kept JPEG, lossless: bytes and cjxl ms, per size.
  const jxl = new Map<string, { bytes: number[]; ms: number[] }>();
  const jxlCell = (size: string) => jxl.get(size) ?? (jxl.set(size, { bytes: [], ms: [] }), jxl.get(size)!);
  const decodeMs = { heic: [] as number[], jpeg: [] as number[], megapixels: [] as number[] };
  const configured: Record<FormatClass, number> = { avif: DEFAULT_VARIANT_ENCODE.avif.quality, webp: DEFAULT_VARIANT_ENCODE.webp.quality, jpeg: 85 };
  try {
    for (const p of photos) {
      const input = readFileSync(join(SRC, p));
      for (const spec of DEFAULT_LADDER) {
        const raw = await resized(input, spec);
        const jpegScore = await ssimAgainst(raw, await encoder(raw, 'jpeg')(configured.jpeg));
        for (const f of FORMAT_CLASSES) {
          const encode = encoder(raw, f);
          const score = (b: Buffer) => ssimAgainst(raw, b);
          const best = await lowestPassing(f === 'jpeg' ? DEFAULT_PERCEPTUAL.minQuality : 1, 100, target, encode, score);
          const c = cell(spec.name, f);
          // Not reached even at 100 (never seen): the best there is, counted as it is.
          let kept = best;
          if (!kept) {
            const data = await encode(100);
            kept = { q: 100, data, score: await score(data) };
          }
          c.bytes.push(kept.data.length);
          c.quality.push(kept.q);
          if (haveButteraugli && spec.size >= 320)
            c.butteraugli.push(
              await butteraugli(dir, sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 } }).removeAlpha(), sharp(kept.data)),
            );
          const t0 = performance.now();
          const atConfigured = await encode(configured[f]);
          c.encodeMs.push(performance.now() - t0);
          c.configuredBytes.push(atConfigured.length);
          c.configuredScore.push(await score(atConfigured));
          if (f !== 'jpeg') c.asJpegQuality.push((await lowestPassing(1, 100, jpegScore, encode, score))?.q ?? 100);
          else {
            const t = performance.now();
            const x = await transcodeJpeg(kept.data, 3);
            jxlCell(spec.name).ms.push(performance.now() - t);
            jxlCell(spec.name).bytes.push(x.length);
          }
        }
      }
      writeFileSync(join(dir, 'photo.jpg'), input);
      await run('heif-enc', ['-q', '60', '-o', join(dir, 'photo.heic'), join(dir, 'photo.jpg')]);
      const heic = readFileSync(join(dir, 'photo.heic'));
      let t = performance.now();
      const decoded = await decodeOriginal(heic);
      await sharp(decoded.pixels, DECODE_OPTIONS).raw().toBuffer();
      decodeMs.heic.push(performance.now() - t);
      t = performance.now();
      await sharp(input, DECODE_OPTIONS).raw().toBuffer();
      decodeMs.jpeg.push(performance.now() - t);
      decodeMs.megapixels.push(((decoded.meta.width ?? 0) * (decoded.meta.height ?? 0)) / 1e6);
      process.stderr.write(`  ${p}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const tier = await resizeTierVariants(photos);

  const rows: Record<string, string | number>[] = [];
  const total: Record<FormatClass, number> = { avif: 0, webp: 0, jpeg: 0 };
  const savedMedians: Record<FormatClass, number[]> = { avif: [], webp: [], jpeg: [] };
  for (const spec of DEFAULT_LADDER) {
    const jpeg = cell(spec.name, 'jpeg');
    for (const f of FORMAT_CLASSES) {
      const c = cell(spec.name, f);
      const bytes = c.bytes.reduce((a, b) => a + b, 0);
      total[f] += bytes;
      const perPhoto = c.bytes.map((b, i) => 1 - b / jpeg.bytes[i]!);
      savedMedians[f].push(...perPhoto);
      rows.push({
        size: `${spec.name} ${spec.size}${spec.square ? ' sq' : ''}`,
        format: f,
        'KB total': round(bytes / 1024, 1),
        'saved vs JPEG (median)': f === 'jpeg' ? '' : `${round(median(perPhoto) * 100, 1)} %`,
        'quality (median)': median(c.quality),
        butteraugli: c.butteraugli.length ? round(median(c.butteraugli), 2) : '',
        'configured q': configured[f],
        'encode ms': round(median(c.encodeMs), 1),
        SSIM: round(median(c.configuredScore), 4),
        'q scoring as JPEG q85': f === 'jpeg' ? '' : median(c.asJpegQuality),
      });
    }
  }
  const jxlRows = DEFAULT_LADDER.map((spec) => {
    const j = jxlCell(spec.name);
    const jpeg = cell(spec.name, 'jpeg').bytes;
    return {
      size: `${spec.name} ${spec.size}${spec.square ? ' sq' : ''}`,
      'JPEG XL KB total': round(j.bytes.reduce((a, b) => a + b, 0) / 1024, 1),
      'saved vs JPEG (median)': `${round(median(j.bytes.map((b, i) => 1 - b / jpeg[i]!)) * 100, 1)} %`,
      'cjxl ms': round(median(j.ms), 1),
    };
  });
  process.stderr.write(`${table(rows)}\n\nJPEG XL (lossless from the kept JPEG, the same pixels):\n${table(jxlRows)}\n`);
  const jxlTotal = [...jxl.values()].reduce((a, j) => a + j.bytes.reduce((x, y) => x + y, 0), 0);
  const saved = (f: FormatClass) => 1 - total[f] / total.jpeg;
  const shares = FORMAT_CLASSES.reduce((a, f) => a + (MIX[f] ?? 0), 0);
  const mixBytes = FORMAT_CLASSES.reduce((a, f) => a + ((MIX[f] ?? 0) / shares) * total[f], 0);
  const figures = {
    bench: 'formats',
    photos: photos.length,
    ssim_target: target,
    avif_saved_ratio: round(saved('avif')),
    webp_saved_ratio: round(saved('webp')),
    avif_saved_ratio_median: round(median(savedMedians.avif)),
    webp_saved_ratio_median: round(median(savedMedians.webp)),
    avif_encode_ms_p50_1024: round(median(cell('b', 'avif').encodeMs), 1),
    webp_encode_ms_p50_1024: round(median(cell('b', 'webp').encodeMs), 1),
    jpeg_encode_ms_p50_1024: round(median(cell('b', 'jpeg').encodeMs), 1),
    avif_quality_p50_1024: median(cell('b', 'avif').quality),
    webp_quality_p50_1024: median(cell('b', 'webp').quality),
    avif_quality_as_jpeg85_p50_1024: median(cell('b', 'avif').asJpegQuality),
    webp_quality_as_jpeg85_p50_1024: median(cell('b', 'webp').asJpegQuality),
    avif_ssim_configured_p50_1024: round(median(cell('b', 'avif').configuredScore), 4),
    webp_ssim_configured_p50_1024: round(median(cell('b', 'webp').configuredScore), 4),
    jpeg_ssim_configured_p50_1024: round(median(cell('b', 'jpeg').configuredScore), 4),
    avif_butteraugli_p50_1024: round(median(cell('b', 'avif').butteraugli), 2),
    webp_butteraugli_p50_1024: round(median(cell('b', 'webp').butteraugli), 2),
    jpeg_butteraugli_p50_1024: round(median(cell('b', 'jpeg').butteraugli), 2),
    mix: MIX,
    mix_saved_ratio: round(1 - mixBytes / total.jpeg),
    jxl_saved_ratio: round(1 - jxlTotal / total.jpeg),
    jxl_encode_ms_p50_1024: round(median(jxlCell('b').ms), 1),
    heic_decode_ms_p50: round(median(decodeMs.heic), 1),
    jpeg_decode_ms_p50: round(median(decodeMs.jpeg), 1),
    photo_megapixels_p50: round(median(decodeMs.megapixels), 1),
    ...tier,
  };
  process.stderr.write(
    `at SSIM ≥ ${target}: AVIF ${round(saved('avif') * 100, 1)} % fewer bytes than JPEG, WebP ${round(saved('webp') * 100, 1)} %; the mix ${round(figures.mix_saved_ratio * 100, 1)} % per view; AVIF encode at 1024 px ${figures.avif_encode_ms_p50_1024} ms (JPEG ${figures.jpeg_encode_ms_p50_1024} ms); JPEG XL (lossless) ${round(figures.jxl_saved_ratio * 100, 1)} %; a ${figures.photo_megapixels_p50} MP HEIC decodes in ${figures.heic_decode_ms_p50} ms (its JPEG ${figures.jpeg_decode_ms_p50} ms)\n`,
  );
  process.stderr.write(
    `the resize tier, per upload (one core): JPEG sizes ${tier.tier_jpeg_s_per_upload} s; searched variants AVIF ${tier.tier_avif_s_per_upload} s (${round(tier.tier_avif_saved_ratio * 100, 1)} % fewer bytes than the stored JPEGs), WebP ${tier.tier_webp_s_per_upload} s (${round(tier.tier_webp_saved_ratio * 100, 1)} %)\n`,
  );
  writeFileSync(join(tmpdir(), 'hearth-bench-formats.json'), JSON.stringify({ figures, rows }, null, 1));
  return figures;
}
