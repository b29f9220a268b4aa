/**
 * What is worth storing (Flickr's "A Year Without a Byte"): for every size of the ladder,
 * the bytes it costs to keep against the milliseconds the origin spends making it on
 * demand, from the real photographs, on one core (the origin's own concurrency is one
 * image per lane). A size is made on demand the way the origin makes it: from the
 * largest stored size at least as large, else from the original. The baseline in the
 * same run is storing every size, as the resize tier did before `storedSizes`.
 *
 * The choice, at list prices stated here (object storage $0.023 per GB-month, compute
 * $0.04 per core-hour: S3 Standard and a general-purpose cloud core, 2026): storing a
 * size pays off when the origin is asked for it at least `breakeven` times a month
 * (a month of its bytes against one make). Caches absorb repeat views: a colo asks the
 * origin again only once its copy has expired, after the caches' 7-day validity, so a
 * size viewed steadily reaches the origin about 30/7 ≈ 4.3 times a month per colo. A
 * size is stored when its break-even is at most that; one whose break-even is higher
 * costs more to keep than a steadily viewed photo's own colo fetches cost to remake, and
 * is made on demand. The break-even of each size is taken with the others as the
 * default stores them (what the origin would make it from).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { CpuBackend, DEFAULT_LADDER, DEFAULT_STORED_SIZES, perceptualRecompress, sourceSize, storedLadder, type SizeSpec } from '../image/index.js';
import { table } from './common.js';

const SRC = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';
const ENCODE = { quality: 85, progressive: true, chromaSubsampling: '4:2:0' } as const;
const STORAGE_PER_GB_MONTH = 0.023;
const COMPUTE_PER_CORE_HOUR = 0.04;
/** A steadily viewed size's origin fetches a month, per colo: once per 7-day cache validity. */
const FETCHES_PER_MONTH = 30 / 7;

/** Median wall time of `n` runs of `fn`, in ms. */
async function medianMs(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

/** Which stored size (or the original) the origin makes `want` from, with `stored` kept. */
function madeFrom(want: SizeSpec, stored: ReadonlySet<string>): SizeSpec | 'original' {
  const larger = DEFAULT_LADDER.filter((s) => s !== want && !s.square && s.size >= want.size && stored.has(s.name)).sort((a, b) => b.size - a.size);
  return larger[0] ?? 'original';
}

export async function benchSizes(): Promise<Record<string, unknown>> {
  if (!existsSync(SRC)) throw new Error(`no photographs in ${SRC}; run infra/setup.sh first`);
  const photos = readdirSync(SRC)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, Number(process.env.HEARTH_BENCH_SIZES_PHOTOS ?? 12));
  const backend = new CpuBackend(1);
  const src = sourceSize(DEFAULT_LADDER);
  process.stderr.write(`sizes benchmark: ${photos.length} photographs, one core, ${DEFAULT_LADDER.length} sizes\n`);
  const bytes = new Map<string, number>();
  // ms[size][from]: making `size` from `from` (a size name or 'original').
  const ms = new Map<string, Map<string, number>>();
  const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v);
  for (const p of photos) {
    const original = readFileSync(`${SRC}/${p}`);
    const made = new Map<string, Buffer>();
    const source = (await backend.resize(original, src, ENCODE)).data;
    made.set(src.name, source);
    for (const s of DEFAULT_LADDER) if (s !== src) made.set(s.name, (await backend.resize(source, s, ENCODE)).data);
    for (const s of DEFAULT_LADDER) {
      add(bytes, s.name, made.get(s.name)!.length);
      const row = ms.get(s.name) ?? new Map<string, number>();
      ms.set(s.name, row);
      add(row, 'original', await medianMs(3, () => backend.resize(original, s, ENCODE)));
      for (const from of DEFAULT_LADDER.filter((f) => f !== s && !f.square && f.size >= s.size))
        add(row, from.name, await medianMs(3, () => backend.resize(made.get(from.name)!, s, ENCODE)));
    }
  }
  const n = photos.length;
  const dollarsPerMonth = (b: number): number => (b / 1e9) * STORAGE_PER_GB_MONTH;
  const dollarsPerMake = (m: number): number => (m / 3.6e6) * COMPUTE_PER_CORE_HOUR;
  const stored = new Set(DEFAULT_STORED_SIZES);
  const figures: Record<string, unknown> = { bench: 'sizes', photos: n, stored_default: [...DEFAULT_STORED_SIZES] };
  const rows: Record<string, string | number>[] = [];
  let all = 0;
  let kept = 0;
  const byRule: string[] = [];
  for (const s of DEFAULT_LADDER) {
    const b = bytes.get(s.name)! / n;
    const from = madeFrom(s, new Set([...stored].filter((x) => x !== s.name)));
    const fromName = from === 'original' ? 'original' : from.name;
    const m = ms.get(s.name)!.get(fromName)! / n;
    const breakeven = dollarsPerMonth(b) / dollarsPerMake(m);
    all += b;
    if (stored.has(s.name)) kept += b;
    if (breakeven <= FETCHES_PER_MONTH) byRule.push(s.name);
    figures[`kb_${s.name}`] = +(b / 1024).toFixed(1);
    figures[`ms_on_demand_${s.name}`] = +m.toFixed(1);
    figures[`ms_from_original_${s.name}`] = +(ms.get(s.name)!.get('original')! / n).toFixed(1);
    figures[`breakeven_fetches_per_month_${s.name}`] = +breakeven.toPrecision(2);
    rows.push({
      size: `${s.name} (${s.size}${s.square ? ' sq' : ''})`,
      kb: +(b / 1024).toFixed(1),
      on_demand_from: fromName,
      on_demand_ms: +m.toFixed(1),
      from_original_ms: +(ms.get(s.name)!.get('original')! / n).toFixed(1),
      breakeven_per_month: +breakeven.toPrecision(2),
      stored: stored.has(s.name) ? 'yes' : 'no',
    });
  }
  figures.stored_by_rule = byRule;
  figures.default_matches_rule = byRule.join() === [...DEFAULT_STORED_SIZES].join();
  figures.kb_per_photo_all_sizes = +(all / 1024).toFixed(1);
  figures.kb_per_photo_stored_default = +(kept / 1024).toFixed(1);
  figures.stored_bytes_ratio_vs_all = +(kept / all).toFixed(3);
  // One URL, one set of bytes: the resize tier runs the perceptual pass before it stores a
  // size. What that adds to an upload's time to every stored size, on one core, against
  // the same tier without the pass (the baseline).
  let withoutPass = 0;
  let passOnly = 0;
  for (const p of photos) {
    const original = readFileSync(`${SRC}/${p}`);
    const t0 = performance.now();
    const source = (await backend.resize(original, src, ENCODE)).data;
    const made: Buffer[] = [];
    for (const s of storedLadder()) made.push(s === src ? source : (await backend.resize(source, s, ENCODE)).data);
    withoutPass += performance.now() - t0;
    const t1 = performance.now();
    for (const m of made) await perceptualRecompress(m);
    passOnly += performance.now() - t1;
  }
  const [msWithout, msWith, ratio] = [
    +(withoutPass / n).toFixed(0),
    +((withoutPass + passOnly) / n).toFixed(0),
    +((withoutPass + passOnly) / withoutPass).toFixed(2),
  ];
  Object.assign(figures, { ms_upload_to_stored_without_pass: msWithout, ms_upload_to_stored_with_pass: msWith, pass_over_without: ratio });
  process.stdout.write(`\nupload to every stored size, one core: ${msWithout} ms without the perceptual pass, ${msWith} ms with it (${ratio}×)\n`);
  process.stdout.write(
    `\n${table(rows)}\n\nper photo: ${(all / 1024).toFixed(1)} KB with every size stored, ${(kept / 1024).toFixed(1)} KB with the default (${[...DEFAULT_STORED_SIZES].join(', ')}): ${(100 * (1 - kept / all)).toFixed(0)} % less; the rule (break-even at most ${FETCHES_PER_MONTH.toFixed(1)} fetches a month) stores ${byRule.join(', ')}${figures.default_matches_rule ? ', the default' : ': NOT the default'}\n`,
  );
  return figures;
}
