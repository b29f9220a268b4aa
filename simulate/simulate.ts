/**
 * The proof that warming wins the race: page views against a running stack. For each
 * page, the "API server" fires the page's hint through api-hook, and the "browser"
 * asks its colo's cache for each image after an HTML-to-image gap. Run with warming
 * off and on, over disjoint halves of the store so neither run sees the other's cache.
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { Agent, request } from 'undici';
import { FORMAT_CLASSES, createHinter, formatClass, type FormatClass } from '@hearth/api-hook';
import { scrape, quantile, seededRandom } from '../common/index.js';
import { RACE_OUTCOMES, RaceJoin, type RaceOutcome } from '../race/index.js';
import { parseCacheLogLine } from '../topology/index.js';

export interface SimColo {
  name: string;
  /** Cache nodes; with several, the browser goes through `proxy` (same consistent hash). */
  cache: string[];
  /** Viewer-facing Host. */
  host: string;
  cidrs: string[];
  /** The nodes' access logs, to count pushes that were never viewed. */
  accessLogs: string[];
}

export interface SimTarget {
  /** Every warmer's UDP, in the stack's order (hints spread over them by rendezvous hashing). */
  warmerUdps: string[];
  /** Every warmer's `/metrics`: drops are summed over them. */
  warmerHttps: string[];
  proxy: string;
  colos: SimColo[];
  /** Store paths this simulation may use; none should be cached yet. */
  paths: string[];
}

export interface SimOptions {
  pages: number;
  minImages: number;
  maxImages: number;
  gapMs: [number, number];
  /** Pages started per second. */
  rate: number;
  /** Share of a page's images the browser requests (the rest are below the fold). */
  viewRatio: number;
  /** Requests in flight per page, like a browser's. */
  browserConcurrency: number;
  seed: number;
  modes: ('off' | 'on')[];
  /** Which browsers view the pages, with their shares: each page is one browser's, with its `Accept`. */
  browsers: readonly SimBrowser[];
}

export interface SimBrowser {
  name: string;
  /** The image `Accept` it sends (and the API server hints with). */
  accept: string;
  share: number;
}

/**
 * Real browsers' image `Accept` headers (2026), with default shares of a current-browser
 * population: Chromium-based, Safari 16.4 and later and Firefox get AVIF; a Safari
 * before 16.4 gets WebP.
 */
export const SIM_BROWSERS: readonly SimBrowser[] = [
  { name: 'chromium', accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', share: 0.7 },
  {
    name: 'safari',
    accept: 'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
    share: 0.18,
  },
  { name: 'firefox', accept: 'image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5', share: 0.07 },
  { name: 'safari-no-avif', accept: 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5', share: 0.05 },
  // A browser that takes neither (Safari 13): none by default; `--browsers safari-13:1` simulates JPEG alone.
  { name: 'safari-13', accept: 'image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5', share: 0 },
];

export const DEFAULT_SIM: SimOptions = {
  pages: 200,
  minImages: 16,
  maxImages: 200,
  gapMs: [100, 400],
  rate: 10,
  viewRatio: 0.9,
  browserConcurrency: 16,
  seed: 1,
  modes: ['off', 'on'],
  browsers: SIM_BROWSERS,
};

/** A browser drawn by share. */
function browserFor(browsers: readonly SimBrowser[], rnd: () => number): SimBrowser {
  const total = browsers.reduce((a, b) => a + b.share, 0);
  let x = rnd() * total;
  for (const b of browsers) if ((x -= b.share) < 0) return b;
  return [...browsers].reverse().find((b) => b.share > 0) ?? (browsers[0] as SimBrowser);
}

export interface ColoReport {
  colo: string;
  pages: number;
  requests: number;
  firstViews: number;
  firstViewHits: number;
  hitRatio: number;
  /** First views of hinted images that were HITs: the warmer beat the browser. */
  raceWinRate: number;
  /**
   * First views of pushed paths by the race join's own definition, read from the caches'
   * logs: won (a HIT begun after the push completed), in_flight (a HIT begun while the
   * push was still fetching: it waited on the cache lock), lost.
   */
  race: Record<RaceOutcome, number>;
  /** How long in_flight first views took, p50 and p95 (the wait a push still in flight costs a viewer). */
  inFlightP50Ms: number;
  inFlightP95Ms: number;
  p50Ms: number;
  p95Ms: number;
  /** Pushes (HEAD at the cache) for images nobody viewed. */
  wastedPushes: number;
  errors: number;
}

/** First views in one bucket (of HTML-to-image gap, or of position in the page), all colos together. */
export interface BucketReport {
  /** `100-150` ms, or positions `17-32`; the last bucket is open (`400+`). */
  bucket: string;
  firstViews: number;
  hits: number;
  hitRatio: number;
}

export interface ModeReport {
  mode: 'off' | 'on';
  colos: ColoReport[];
  /**
   * By the page's HTML-to-image gap: a view whose gap is shorter than one origin round
   * trip cannot be a full HIT, whatever the warmer does.
   */
  byGap: BucketReport[];
  /** By the image's place in its page (1 = first requested): later images are asked for later. */
  byPosition: BucketReport[];
  /** By the format class the browser got (each class is its own cached object, warmed by its own push). */
  byFormat: BucketReport[];
  /** Warmer path drops during the run, by reason. */
  drops: Record<string, number>;
}

interface Sample {
  colo: string;
  path: string;
  format: FormatClass;
  first: boolean;
  hinted: boolean;
  hit: boolean;
  ms: number;
  ok: boolean;
  gapMs: number;
  /** 1-based place among the page's requested images. */
  position: number;
}

const GAP_EDGES = [0, 50, 100, 150, 200, 300, 400];
const POSITION_EDGES = [1, 17, 33, 65, 129];

/** Buckets of `value` between consecutive edges (`a-b`), the last one open (`a+`). */
function bucketsOf(samples: Sample[], edges: readonly number[], value: (s: Sample) => number, closedUpper: boolean): BucketReport[] {
  return edges.map((lo, i) => {
    const hi = edges[i + 1];
    const inside = samples.filter((s) => value(s) >= lo && (hi === undefined || value(s) < hi));
    const hits = inside.filter((s) => s.hit).length;
    const label = hi === undefined ? `${lo}+` : `${lo}-${closedUpper ? hi - 1 : hi}`;
    return { bucket: label, firstViews: inside.length, hits, hitRatio: inside.length ? hits / inside.length : 0 };
  });
}

function viewerIn(colo: SimColo, rnd: () => number): string | undefined {
  const cidr = colo.cidrs.find((c) => ipaddr.parseCIDR(c)[0].kind() === 'ipv4');
  if (!cidr) return undefined;
  const [net, len] = ipaddr.parseCIDR(cidr);
  const base = net.toByteArray().reduce((a, b) => a * 256 + b, 0);
  const size = 2 ** (32 - len);
  const n = base + 1 + Math.floor(rnd() * Math.max(1, size - 2));
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Every warmer's drops by reason, summed. */
const dropsOf = (scrapes: Map<string, number>[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const m of scrapes) {
    for (const [k, v] of m) {
      const r = /^hearth_warmer_paths_dropped_total\{reason="([a-z_]+)"\}$/.exec(k);
      if (r) out[r[1] as string] = (out[r[1] as string] ?? 0) + v;
    }
  }
  return out;
};

/** The lines the caches logged since `offsets` (one per file), every file's in turn. */
function linesSince(files: string[], offsets: number[]): string[] {
  return files.flatMap((f, i) => {
    try {
      return readFileSync(f, 'utf8').slice(offsets[i]).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  });
}

function headsIn(lines: readonly string[], pool: Set<string>): Set<string> {
  const out = new Set<string>();
  for (const line of lines) {
    const l = JSON.parse(line) as { method: string; uri: string };
    if (l.method === 'HEAD' && pool.has(l.uri)) out.add(l.uri);
  }
  return out;
}

/** The race join over what a colo's caches logged during the run, for paths of the pool. */
function raceIn(lines: readonly string[], pool: Set<string>): { outcomes: Record<RaceOutcome, number>; inFlightMs: number[] } {
  const outcomes = Object.fromEntries(RACE_OUTCOMES.map((o) => [o, 0])) as Record<RaceOutcome, number>;
  const inFlightMs: number[] = [];
  const join = new RaceJoin(
    { maxTracked: 1_000_000, viewWindowMs: 3_600_000, viewerWaitMs: 3_600_000 },
    {
      firstView: (_colo, outcome, _gap, took) => {
        outcomes[outcome]++;
        if (outcome === 'in_flight') inFlightMs.push(took * 1000);
      },
      unviewed: () => {},
      evicted: () => {},
    },
  );
  for (const line of lines) {
    const l = parseCacheLogLine(line);
    if (typeof l === 'object' && pool.has(l.uri)) join.add(l);
  }
  return { outcomes, inFlightMs: inFlightMs.sort((a, b) => a - b) };
}

const logSizes = (files: string[]): number[] =>
  files.map((f) => {
    try {
      return readFileSync(f, 'utf8').length;
    } catch {
      return 0;
    }
  });

async function runMode(t: SimTarget, o: SimOptions, mode: 'off' | 'on', pool: string[], touched: Set<string>): Promise<ModeReport> {
  const rnd = seededRandom(o.seed + (mode === 'on' ? 1 : 0));
  // A stream of its own, so a seed draws the same pages, images and gaps whatever the browser mix.
  const browserRnd = seededRandom(o.seed * 7919 + (mode === 'on' ? 1 : 0));
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  const hinter = mode === 'on' ? createHinter({ warmers: t.warmerUdps }) : undefined;
  const poolSet = new Set(pool);
  const offsets = t.colos.map((c) => logSizes(c.accessLogs));
  const before = dropsOf(await Promise.all(t.warmerHttps.map((h) => scrape(h))));
  const seen = new Set<string>();
  const hinted = new Set<string>();
  const samples: Sample[] = [];
  const pageCount = new Map<string, number>();

  const page = async (): Promise<void> => {
    const colo = t.colos[Math.floor(rnd() * t.colos.length)] as SimColo;
    pageCount.set(colo.name, (pageCount.get(colo.name) ?? 0) + 1);
    const n = o.minImages + Math.floor(rnd() * (o.maxImages - o.minImages + 1));
    const images = Array.from({ length: n }, () => pool[Math.floor(rnd() * pool.length)] as string);
    for (const p of images) touched.add(p);
    const viewer = viewerIn(colo, rnd);
    const browser = browserFor(o.browsers, browserRnd);
    const format = formatClass(browser.accept);
    if (hinter) {
      hinter.hint(viewer ? { paths: images, viewer, accept: browser.accept } : { paths: images, colo: colo.name, accept: browser.accept });
      for (const p of images) hinted.add(`${colo.name} ${format} ${p}`);
    }
    const gap = o.gapMs[0] + rnd() * (o.gapMs[1] - o.gapMs[0]);
    const viewed = images.filter(() => rnd() < o.viewRatio);
    await new Promise((r) => setTimeout(r, gap));
    const target = colo.cache.length === 1 ? (colo.cache[0] as string) : t.proxy;
    let next = 0;
    await Promise.all(
      Array.from({ length: o.browserConcurrency }, async () => {
        for (let i = next++; i < viewed.length; i = next++) {
          const path = viewed[i] as string;
          const at = { gapMs: gap, position: i + 1 };
          // A first view is per class: each class's encoding is its own cached object.
          const key = `${colo.name} ${format} ${path}`;
          const first = !seen.has(key);
          seen.add(key);
          const t0 = performance.now();
          try {
            const res = await request(`http://${target}${path}`, {
              dispatcher: agent,
              headers: { host: colo.host, accept: browser.accept },
            });
            await res.body.dump();
            const cache = String(res.headers['x-cache-status'] ?? '');
            samples.push({
              colo: colo.name,
              path,
              format,
              first,
              hinted: hinted.has(key),
              hit: cache === 'HIT',
              ms: performance.now() - t0,
              ok: res.statusCode === 200,
              ...at,
            });
          } catch {
            samples.push({ colo: colo.name, path, format, first, hinted: hinted.has(key), hit: false, ms: performance.now() - t0, ok: false, ...at });
          }
        }
      }),
    );
  };

  const pages: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < o.pages; i++) {
    const due = start + (i * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pages.push(page());
  }
  await Promise.all(pages);
  await hinter?.close();
  await agent.close();
  // Pushes still under way would otherwise be missed when counting waste.
  await new Promise((r) => setTimeout(r, 300));
  const after = dropsOf(await Promise.all(t.warmerHttps.map((h) => scrape(h))));
  const drops: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) drops[k] = v - (before[k] ?? 0);

  const colos = t.colos.map((c, ci): ColoReport => {
    const mine = samples.filter((s) => s.colo === c.name);
    const firsts = mine.filter((s) => s.first);
    const lat = firsts.map((s) => s.ms).sort((a, b) => a - b);
    const hintedFirsts = firsts.filter((s) => s.hinted);
    const viewedPaths = new Set(mine.map((s) => s.path));
    const logged = linesSince(c.accessLogs, offsets[ci] as number[]);
    const pushed = headsIn(logged, poolSet);
    const race = raceIn(logged, poolSet);
    return {
      colo: c.name,
      pages: pageCount.get(c.name) ?? 0,
      requests: mine.length,
      firstViews: firsts.length,
      firstViewHits: firsts.filter((s) => s.hit).length,
      hitRatio: firsts.length ? firsts.filter((s) => s.hit).length / firsts.length : 0,
      raceWinRate: hintedFirsts.length ? hintedFirsts.filter((s) => s.hit).length / hintedFirsts.length : 0,
      race: race.outcomes,
      inFlightP50Ms: +quantile(race.inFlightMs, 0.5).toFixed(1),
      inFlightP95Ms: +quantile(race.inFlightMs, 0.95).toFixed(1),
      p50Ms: +quantile(lat, 0.5).toFixed(1),
      p95Ms: +quantile(lat, 0.95).toFixed(1),
      wastedPushes: [...pushed].filter((p) => !viewedPaths.has(p)).length,
      errors: mine.filter((s) => !s.ok).length,
    };
  });
  const firsts = samples.filter((x) => x.first);
  return {
    mode,
    colos,
    byGap: bucketsOf(firsts, GAP_EDGES, (x) => x.gapMs, false),
    byPosition: bucketsOf(firsts, POSITION_EDGES, (x) => x.position, true),
    byFormat: FORMAT_CLASSES.map((f) => {
      const inside = firsts.filter((x) => x.format === f);
      const hits = inside.filter((x) => x.hit).length;
      return { bucket: f, firstViews: inside.length, hits, hitRatio: inside.length ? hits / inside.length : 0 };
    }),
    drops,
  };
}

/** Runs each mode; `touched` receives every path a page hinted or showed (what is in the caches afterwards). */
export async function simulate(t: SimTarget, o: SimOptions, touched = new Set<string>()): Promise<ModeReport[]> {
  if (t.paths.length < 2 * o.maxImages)
    throw new Error(
      `the store has ${t.paths.length} paths no earlier simulation on this stack used; one with pages of up to ${o.maxImages} images needs at least ${2 * o.maxImages}. For empty caches: hearth stack down, remove the state directory, hearth stack up`,
    );
  const reports: ModeReport[] = [];
  for (const [i, mode] of o.modes.entries()) {
    // Disjoint pools: warming "on" must not find what "off" already cached, and vice versa.
    const pool = t.paths.filter((_, j) => j % o.modes.length === i);
    reports.push(await runMode(t, o, mode, pool, touched));
  }
  return reports;
}

export function formatReport(reports: ModeReport[]): string {
  const rows = [
    [
      'mode',
      'colo',
      'pages',
      'first views',
      'hit ratio',
      'race wins',
      'won/in flight/lost',
      'in flight p50/p95 ms',
      'p50 ms',
      'p95 ms',
      'wasted pushes',
      'errors',
    ],
  ];
  for (const r of reports) {
    for (const c of r.colos) {
      const on = r.mode === 'on';
      rows.push([
        r.mode,
        c.colo,
        String(c.pages),
        String(c.firstViews),
        c.hitRatio.toFixed(3),
        on ? c.raceWinRate.toFixed(3) : '-',
        on ? RACE_OUTCOMES.map((o) => c.race[o]).join('/') : '-',
        on && c.race.in_flight > 0 ? `${c.inFlightP50Ms.toFixed(0)}/${c.inFlightP95Ms.toFixed(0)}` : '-',
        c.p50Ms.toFixed(1),
        c.p95Ms.toFixed(1),
        String(c.wastedPushes),
        String(c.errors),
      ]);
    }
  }
  const drops = reports.map(
    (r) =>
      `warmer drops (${r.mode}): ${
        Object.entries(r.drops)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || 'none'
      }`,
  );
  // First-view hit ratio by bucket, one column pair per mode.
  const byBucket = (title: string, of: (r: ModeReport) => BucketReport[]): string[][] => [
    [title, ...reports.flatMap((r) => [`${r.mode}: first views`, `${r.mode}: hit ratio`])],
    ...of(reports[0] as ModeReport).map((b, i) => [
      b.bucket,
      ...reports.flatMap((r) => [String(of(r)[i]?.firstViews ?? 0), (of(r)[i]?.hitRatio ?? 0).toFixed(3)]),
    ]),
  ];
  return `${[...aligned(rows), '', ...aligned(byBucket('gap ms', (r) => r.byGap)), '', ...aligned(byBucket('position', (r) => r.byPosition)), '', ...aligned(byBucket('format', (r) => r.byFormat)), '', ...drops].join('\n')}\n`;
}

function aligned(rows: string[][]): string[] {
  const w = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((v, i) => v.padStart(w[i] as number)).join('  '));
}
