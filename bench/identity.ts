/**
 * `npm run bench -- identity`: image identity at the scales the issue names, each
 * against its brute-force baseline in the same run, on one core.
 *
 * - Exact fingerprints (TOOSIMPLE's challenge): a store of 100,000 files of ~20 KB
 *   (random bytes: only their sizes and bytes matter to a fingerprint) plus 180 real
 *   JPEGs made from the fetched photographs, kept under .cache/bench (the first run
 *   writes it). Fingerprints in files/s against a full SHA-256 of every file; the
 *   index of a 1,000,000-record identity ledger, built and loaded; lookup of the 180
 *   files end to end (read, fingerprint, candidates, byte-for-byte confirmation).
 * - Fuzzy matching (Cloudflare's case): synthetic databases of 1,000,000 and 10,000,000
 *   random entries with planted near copies at known distances, so recall is checked:
 *   PDQ Hamming at thresholds 10 and 31, and 144-byte squared L2 at 20,000 (planted
 *   copies sit at ~7,500; unrelated vectors at ~1,570,000), against plain scans.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import {
  HammingIndex,
  encodeRecord,
  fingerprintOf,
  hamming,
  identify,
  indexLedger,
  loadLookup,
  nativeMatch,
  type LedgerLookup,
  type LedgerRecord,
} from '../identity/index.js';
import { L2Index, L2_DIMS, l2Scan } from './l2-index.js';
import { originalPath } from '../image/index.js';
import { DirStore, storeFile } from '../store/index.js';
import { table } from './common.js';

const STORE = process.env.HEARTH_BENCH_IDENTITY_STORE ?? '.cache/bench/identity-store';
const PHOTOS = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';
const FILES = 100_000;
const CLIENT = 180;
const L2_THRESHOLD = 20_000;

const ms = (t0: number): number => performance.now() - t0;
const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));
const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** The store: 100,000 random files and 180 real JPEGs; written once, reused. */
async function ensureStore(): Promise<{ client: string[]; ids: string[] }> {
  const marker = join(STORE, '.bench-complete');
  const clientDir = join(STORE, '..', 'identity-client');
  if (!existsSync(marker)) {
    rmSync(STORE, { recursive: true, force: true });
    rmSync(clientDir, { recursive: true, force: true });
    log(`identity benchmark: writing ${FILES.toLocaleString('en')} files of ~20 KB into ${STORE} (once)`);
    const base = 1_700_000_000_000_000;
    for (let i = 0; i < FILES; i++) {
      const file = storeFile(STORE, originalPath(String(base + i)));
      if (i % 100 === 0) mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, randomBytes(15_000 + Math.floor(Math.random() * 10_000)));
    }
    // 180 real JPEGs of 20-odd KB: the photographs at several sizes and qualities.
    mkdirSync(clientDir, { recursive: true });
    const photos = readdirSync(PHOTOS)
      .filter((f) => f.endsWith('.jpg'))
      .sort();
    for (let i = 0; i < CLIENT; i++) {
      const data = await sharp(join(PHOTOS, photos[i % photos.length] as string))
        .resize(320 + 8 * Math.floor(i / photos.length))
        .jpeg({ quality: 70 + (i % 20) })
        .toBuffer();
      const id = String(base + FILES + i);
      const file = storeFile(STORE, originalPath(id));
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, data);
      writeFileSync(join(clientDir, `${id}.jpg`), data);
    }
    writeFileSync(marker, `${FILES + CLIENT}\n`);
  }
  const client = readdirSync(clientDir)
    .sort()
    .map((f) => join(clientDir, f));
  return { client, ids: client.map((f) => f.replace(/^.*\//, '').replace(/\.jpg$/, '')) };
}

async function exact(): Promise<Record<string, number>> {
  const { client, ids } = await ensureStore();
  const dirStore = new DirStore(STORE);
  const originals = readdirSync(join(STORE, 'originals')).flatMap((dir) =>
    readdirSync(join(STORE, 'originals', dir)).map((f) => join(STORE, 'originals', dir, f)),
  );
  // The page cache warm for both passes below, so that each measures its hash, not the disk.
  for (const f of originals) readFileSync(f);
  // What the identity worker computes of each upload, whole in memory...
  let t0 = performance.now();
  const records: LedgerRecord[] = [];
  const pdq = Buffer.alloc(32);
  for (const f of originals) {
    const data = readFileSync(f);
    records.push({ id: f.replace(/^.*\/|\.jpg$/g, ''), fingerprint: fingerprintOf(data), size: data.length, pdq, quality: 90 });
  }
  const files = originals.length;
  const fingerprintS = ms(t0) / 1000;
  // ...against the baseline: a full-content hash of every file, as an identity without TOOSIMPLE's trick would need.
  t0 = performance.now();
  for (const f of originals) createHash('sha256').update(readFileSync(f)).digest();
  const shaS = ms(t0) / 1000;

  // A 1,000,000-record ledger: the store's, padded with synthetic records (let go before the lookups, whose time a full heap would cost).
  while (records.length < 1_000_000)
    records.push({ id: String(1_800_000_000_000_000 + records.length), fingerprint: randomBytes(8).readBigUInt64LE(), size: 20_000, pdq, quality: 90 });
  const dir = join(tmpdir(), `hearth-bench-identity-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const ledger = join(dir, 'ledger');
  writeFileSync(ledger, Buffer.concat(records.map(encodeRecord)));
  records.length = 0;
  t0 = performance.now();
  await indexLedger(ledger);
  const buildMs = ms(t0);
  const loads: number[] = [];
  let images: LedgerLookup | undefined;
  for (let i = 0; i < 5; i++) {
    t0 = performance.now();
    images = await loadLookup(ledger);
    loads.push(ms(t0));
  }
  rmSync(dir, { recursive: true, force: true });
  const loadMs = loads.sort((a, b) => a - b)[2] as number;
  // Lookup of the 180 client files, end to end; twice, the second reported (the first warms the page cache).
  let found = 0;
  let lookupMs = 0;
  for (let pass = 0; pass < 2; pass++) {
    found = 0;
    t0 = performance.now();
    for (const f of client) if ((await identify(dirStore, images as LedgerLookup, f)).id !== null) found++;
    lookupMs = ms(t0);
  }
  log(
    table([
      { what: `fingerprint, ${files.toLocaleString('en')} files read whole`, figure: `${Math.round(files / fingerprintS).toLocaleString('en')} files/s` },
      { what: 'baseline: SHA-256 of every whole file', figure: `${Math.round(files / shaS).toLocaleString('en')} files/s` },
      { what: 'index a 1,000,000-record ledger', figure: `${round(buildMs)} ms` },
      { what: 'load the lookup over it: index, check, tail (median of 5)', figure: `${round(loadMs)} ms` },
      { what: `look up ${client.length} files, end to end (found ${found})`, figure: `${round(lookupMs)} ms` },
    ]),
  );
  if (found !== client.length) throw new Error(`lookup found ${found} of ${client.length} files (ids ${ids.length})`);
  return {
    fingerprint_files_per_s: Math.round(files / fingerprintS),
    sha256_files_per_s: Math.round(files / shaS),
    index_build_ms_1m: round(buildMs),
    index_load_ms_1m: round(loadMs),
    lookup_180_ms: round(lookupMs),
  };
}

/** `h` with `bits` distinct bits flipped. */
function flipped(h: Buffer, bits: number): Buffer {
  const out = Buffer.from(h);
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(randomBytes(1)[0] as number);
  for (const b of chosen) out.writeUInt8((out.readUInt8(b >> 3) ^ (1 << (b & 7))) & 0xff, b >> 3);
  return out;
}

/** Recall tally: planted matches asked for, and found. */
const recall = { planted: 0, found: 0 };

function hammingAt(n: number, queries: number): Record<string, number> {
  const db = randomBytes(n * 32);
  let t0 = performance.now();
  const index = new HammingIndex(db);
  const buildMs = ms(t0);
  const out: Record<string, number> = { build_ms: round(buildMs) };
  for (const threshold of [10, 31]) {
    const planted = Array.from({ length: queries }, (_, q) => {
      const target = Math.floor(Math.random() * n);
      return { target, query: flipped(db.subarray(target * 32, target * 32 + 32), q % (threshold + 1)) };
    });
    for (const engine of ['auto', 'js'] as const) {
      if (engine === 'js' && n > 1_000_000) continue;
      t0 = performance.now();
      for (const p of planted) {
        const hits = index.search(p.query, threshold, engine);
        recall.planted++;
        if (hits.some((h) => h.index === p.target)) recall.found++;
      }
      out[`${engine === 'auto' ? 'native' : 'js'}_t${threshold}`] = round(ms(t0) / queries);
    }
  }
  // The plain scan, on a few queries (it takes 0.1 s or more each), at a million only.
  if (n > 1_000_000) return { ...out, scan: NaN };
  const few = 5;
  t0 = performance.now();
  for (let q = 0; q < few; q++) {
    const query = randomBytes(32);
    for (let i = 0; i < n; i++) hamming(query, db.subarray(i * 32, i * 32 + 32));
  }
  out.scan = round(ms(t0) / few);
  return out;
}

function l2At(n: number, queries: number): Record<string, number> {
  const db = new Uint8Array(randomBytes(n * L2_DIMS));
  let t0 = performance.now();
  const index = new L2Index(db);
  const buildMs = ms(t0);
  const planted = Array.from({ length: queries }, () => {
    const target = Math.floor(Math.random() * n);
    const q = new Uint8Array(L2_DIMS);
    for (let d = 0; d < L2_DIMS; d++) q[d] = Math.max(0, Math.min(255, (db[target * L2_DIMS + d] as number) + Math.floor(Math.random() * 25) - 12));
    return { target, q };
  });
  t0 = performance.now();
  for (const p of planted) {
    recall.planted++;
    if (index.search(p.q, L2_THRESHOLD).some((h) => h.index === p.target)) recall.found++;
  }
  const engineMs = ms(t0) / queries;
  const native = nativeMatch();
  const few = Math.min(queries, 5);
  t0 = performance.now();
  for (let k = 0; k < few; k++) native?.l2Scan(db, (planted[k] as { q: Uint8Array }).q, L2_THRESHOLD);
  const scanC = ms(t0) / few;
  let scanJs = NaN;
  if (n <= 1_000_000) {
    t0 = performance.now();
    for (let k = 0; k < 2; k++) l2Scan(db, (planted[k] as { q: Uint8Array }).q, L2_THRESHOLD);
    scanJs = ms(t0) / 2;
  }
  return { build_ms: round(buildMs), engine: round(engineMs), scan_c: round(scanC), scan_js: round(scanJs) };
}

export async function benchIdentity(): Promise<Record<string, unknown>> {
  if (!existsSync(PHOTOS)) throw new Error(`no photographs in ${PHOTOS}; run infra/setup.sh first`);
  const native = nativeMatch();
  if (!native) throw new Error('the native matching engine is not built; run infra/setup.sh first');
  log(`identity benchmark: ${availableParallelism()} cores (one used), native engine: ${native.simd}`);
  const ex = await exact();
  const h1 = hammingAt(1_000_000, 200);
  const l1 = l2At(1_000_000, 200);
  log(
    table([
      { 'at 1,000,000': 'PDQ Hamming, threshold 10', engine: `${h1.native_t10} ms`, javascript: `${h1.js_t10} ms`, 'plain scan': `${h1.scan} ms (JS)` },
      { 'at 1,000,000': 'PDQ Hamming, threshold 31', engine: `${h1.native_t31} ms`, javascript: `${h1.js_t31} ms`, 'plain scan': `${h1.scan} ms (JS)` },
      {
        'at 1,000,000': `144-byte L2, threshold ${L2_THRESHOLD.toLocaleString('en')}`,
        engine: `${l1.engine} ms`,
        javascript: '-',
        'plain scan': `${l1.scan_c} ms (C), ${l1.scan_js} ms (JS)`,
      },
    ]),
  );
  const h10 = hammingAt(10_000_000, 100);
  const l10 = l2At(10_000_000, 100);
  log(
    table([
      { 'at 10,000,000': 'PDQ Hamming, threshold 10', engine: `${h10.native_t10} ms`, 'plain scan': `${h10.scan} ms (JS)`, build: `${h10.build_ms} ms` },
      { 'at 10,000,000': 'PDQ Hamming, threshold 31', engine: `${h10.native_t31} ms`, 'plain scan': `${h10.scan} ms (JS)`, build: `${h10.build_ms} ms` },
      {
        'at 10,000,000': `144-byte L2, threshold ${L2_THRESHOLD.toLocaleString('en')}`,
        engine: `${l10.engine} ms`,
        'plain scan': `${l10.scan_c} ms (C)`,
        build: `${l10.build_ms} ms`,
      },
    ]),
  );
  const figures = {
    cores: availableParallelism(),
    simd: native.simd,
    ...ex,
    pdq_ms_per_query_1m: h1.native_t31,
    pdq_t10_ms_per_query_1m: h1.native_t10,
    pdq_js_ms_per_query_1m: h1.js_t31,
    bruteforce_pdq_ms_per_query_1m: h1.scan,
    l2_144_ms_per_query_1m: l1.engine,
    bruteforce_l2_144_ms_per_query_1m: l1.scan_c,
    bruteforce_l2_144_js_ms_per_query_1m: l1.scan_js,
    l2_144_speedup_vs_bruteforce_1m: round((l1.scan_c as number) / (l1.engine as number)),
    pdq_ms_per_query_10m: h10.native_t31,
    pdq_t10_ms_per_query_10m: h10.native_t10,
    l2_144_ms_per_query_10m: l10.engine,
    bruteforce_l2_144_ms_per_query_10m: l10.scan_c,
    recall: recall.found / recall.planted,
  };
  log(`recall: ${recall.found} of ${recall.planted} planted matches found`);
  return figures;
}
