/**
 * `npm run bench -- store`: the seed's Backpack experiment on this machine's disk, `dir`
 * against `volumes` in the same run, both durable before they answer.
 *
 * - Throughput: THUMBNAILS real 150 px squares from the corpus (1.5–12 KB, median 5.5 KB;
 *   Flickr's small sizes are 3–10 KB), written through each driver 16 at a time; then
 *   READS random reads with the page cache dropped, then the same reads warm.
 * - The device's own limit: the same sizes read at random offsets of the volume files
 *   (one large file's worth per volume), cold, at the same concurrency.
 * - Scale of the index: NEEDLES needles of 200–400 bytes; the index's memory as the
 *   process measures it (after GC, against the same process before opening), and the
 *   restart time; for `dir`, the kernel's dentry and inode slab bytes per file, measured
 *   by stat-ing every file of the `dir` store with the caches dropped.
 * - The HTTP hop: the same warm reads through the store service on loopback, as tiers read.
 * - Durability: KILLS `kill -9`s at random points of a write load; every acknowledged put
 *   must read back byte-exact.
 * - Through the origin: every driver, `s3` on a real Ceph cluster included, with 5–500 KB
 *   photographs (bench/store-origin.ts).
 *
 * Scale by environment: HEARTH_BENCH_THUMBNAILS (1,000,000), HEARTH_BENCH_READS (100,000),
 * HEARTH_BENCH_NEEDLES (10,000,000), HEARTH_BENCH_KILLS (20), HEARTH_BENCH_STORE_DIR.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { HEARTH_CLI } from '../common/index.js';
import { seededRandom, quantile } from '../common/random.js';
import { DirStore, HttpStore, VolumeEngine, type ObjectStore } from '../store/index.js';
import { here, table } from './common.js';
import { benchStoreThroughOrigin } from './store-origin.js';

const N = Number(process.env.HEARTH_BENCH_THUMBNAILS ?? 1_000_000);
const READS = Number(process.env.HEARTH_BENCH_READS ?? 100_000);
const NEEDLES = Number(process.env.HEARTH_BENCH_NEEDLES ?? 10_000_000);
const KILLS = Number(process.env.HEARTH_BENCH_KILLS ?? 20);
const ROOT = process.env.HEARTH_BENCH_STORE_DIR ?? '.cache/bench/store';
const CORPUS = '.cache/corpus/photos';
const LANES = 16;

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));
const keyOf = (i: number): string => {
  const id = 1_000_000 + i;
  return `/photos/${Math.floor(id / 100)}/${id}_q.jpg`;
};

/** The corpus's real 150 px squares. */
function thumbnails(): Buffer[] {
  const out: Buffer[] = [];
  for (const dir of readdirSync(CORPUS)) for (const f of readdirSync(join(CORPUS, dir))) if (f.endsWith('_q.jpg')) out.push(readFileSync(join(CORPUS, dir, f)));
  if (out.length === 0) throw new Error(`no thumbnails in ${CORPUS}: run infra/setup.sh (it builds the corpus)`);
  return out;
}

/** Ports nothing listens on now (the kernel's choice). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((r) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => r(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function dropCaches(): boolean {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

async function lanes(count: number, work: (i: number) => Promise<void>, width = LANES): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < count; i = next++) await work(i);
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function writeAll(store: ObjectStore, thumbs: Buffer[]): Promise<number> {
  let shown = 0;
  const s = await lanes(N, async (i) => {
    await store.put(keyOf(i), thumbs[i % thumbs.length]!);
    if (i - shown >= 100_000) {
      shown = i;
      log(`  ${store.driver}: ${i.toLocaleString('en')} written`);
    }
  });
  return N / s;
}

async function readAll(store: ObjectStore, keys: string[]): Promise<{ perS: number; p50: number; p99: number }> {
  const lat: number[] = [];
  const s = await lanes(keys.length, async (i) => {
    const t0 = performance.now();
    await store.get(keys[i]!);
    lat.push(performance.now() - t0);
  });
  lat.sort((a, b) => a - b);
  return { perS: keys.length / s, p50: round(quantile(lat, 0.5)), p99: round(quantile(lat, 0.99)) };
}

/** Random reads of thumbnail sizes at random offsets of the volume files: what the device gives, with no store in the way. */
async function deviceReads(files: string[], sizes: number[], count: number, random: () => number): Promise<number> {
  const handles = await Promise.all(files.map((f) => open(f, 'r')));
  const lengths = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const buf = Buffer.alloc(16384 * LANES);
  try {
    const s = await lanes(count, async (i) => {
      const f = Math.floor(random() * handles.length);
      const size = sizes[i % sizes.length]!;
      const at = Math.floor((random() * (lengths[f]! - size)) / 4096) * 4096 + Math.floor(random() * 4096);
      await handles[f]!.read(buf, (i % LANES) * 16384, Math.min(size, 16384), Math.max(0, Math.min(at, lengths[f]! - size)));
    });
    return count / s;
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
}

function slabBytes(): number {
  let total = 0;
  for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n')) {
    const f = line.split(/\s+/);
    if (['dentry', 'ext4_inode_cache', 'xfs_inode', 'btrfs_inode'].includes(f[0]!)) total += Number(f[1]) * Number(f[3]);
  }
  return total;
}

/** Kernel bytes a cached file costs: dentry and inode slabs grown by stat-ing every file of the `dir` store, caches dropped first. */
function kernelBytesPerFile(root: string): number | undefined {
  if (!dropCaches()) return undefined;
  const before = slabBytes();
  let files = 0;
  for (const e of readdirSync(join(root, 'photos'), { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      statSync(join(e.parentPath, e.name));
      files++;
    }
  }
  return files ? (slabBytes() - before) / files : undefined;
}

/** The index's memory and restart time with NEEDLES small needles, measured in a child of its own. */
async function indexScale(dir: string): Promise<{ bytesPerNeedle: number; restartMs: number; writePerS: number }> {
  let writePerS = 0;
  // Written once, reused by later runs (the restart and memory figures are what change).
  const marker = join(dir, `.complete-${NEEDLES}`);
  if (!existsSync(marker)) {
    rmSync(dir, { recursive: true, force: true });
    const engine = await VolumeEngine.open({ dir, minFreeBytes: 0 });
    const random = seededRandom(7);
    const payload = Buffer.alloc(400, 7);
    let shown = 0;
    const s = await lanes(
      NEEDLES,
      async (i) => {
        await engine.put(`/photos/${Math.floor((2_000_000_000 + i) / 100)}/${2_000_000_000 + i}_s.jpg`, payload.subarray(0, 200 + Math.floor(random() * 200)));
        if (i - shown >= 1_000_000) {
          shown = i;
          log(`  index scale: ${i.toLocaleString('en')} needles written`);
        }
        // 256 writers: a full batch per fsync, so loading ten million takes minutes, not a quarter hour.
      },
      256,
    );
    writePerS = NEEDLES / s;
    await engine.close();
    writeFileSync(marker, '');
  }
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', here('store-index-probe.js'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`index probe exited ${code}`))));
  });
  const probe = JSON.parse(out.trim().split('\n').pop()!) as { bytes: number; restartMs: number; objects: number };
  return { bytesPerNeedle: probe.bytes / probe.objects, restartMs: probe.restartMs, writePerS };
}

/** KILLS kill -9s of a write load; acknowledged puts that did not read back, and torn tails cut. */
async function durability(dir: string): Promise<{ lost: number; checked: number; torn: number }> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The suite's own writer (test/helpers/volume-writer.ts): the same load the crash test runs.
  const { bytesFor, killWriterRepeatedly } = (await import(here('../test/helpers/volume-writer.js'))) as typeof import('../test/helpers/volume-writer.js');
  let torn = 0;
  const state = await killWriterRepeatedly({
    dir,
    kills: KILLS,
    random: seededRandom(11),
    volumeBytes: 4 << 20,
    maxMs: 900,
    // Every start after a kill cuts what was torn; count it.
    afterKill: async () => {
      const engine = await VolumeEngine.open({ dir, minFreeBytes: 0, volumeBytes: 4 << 20, observer: { tornTail: () => torn++ } });
      await engine.close();
    },
  });
  const engine = await VolumeEngine.open({ dir, minFreeBytes: 0, volumeBytes: 4 << 20 });
  let lost = 0;
  let checked = 0;
  for (const [key, op] of state) {
    if (op !== 'put') continue;
    checked++;
    const data = await engine.get(key).catch(() => undefined);
    if (!data?.equals(bytesFor(key))) lost++;
  }
  await engine.close();
  return { lost, checked, torn };
}

export async function benchStore(): Promise<Record<string, unknown>> {
  const thumbs = thumbnails();
  const dataBytes = (n: number): number =>
    Array.from({ length: Math.min(n, thumbs.length) }, (_, i) => thumbs[i]!.length).reduce((a, b) => a + b, 0) * (n / Math.min(n, thumbs.length));
  log(
    `store benchmark: ${N.toLocaleString('en')} thumbnails (${thumbs.length} real ones, median ${quantile(
      thumbs.map((t) => t.length).sort((a, b) => a - b),
      0.5,
    )} bytes) per driver, ${READS.toLocaleString('en')} reads, in ${ROOT}`,
  );
  const dirRoot = join(ROOT, 'dir');
  const volRoot = join(ROOT, 'volumes');
  rmSync(dirRoot, { recursive: true, force: true });
  rmSync(volRoot, { recursive: true, force: true });
  const dir = new DirStore(dirRoot);
  const vol = await VolumeEngine.open({ dir: volRoot, minFreeBytes: 0 });
  const batches: number[] = [];
  (vol as unknown as { o: { observer?: unknown } }).o.observer = { committed: (n: number) => batches.push(n) };
  log('writing through dir');
  const writeDir = await writeAll(dir, thumbs);
  log('writing through volumes');
  const writeVol = await writeAll(vol, thumbs);
  const random = seededRandom(3);
  const keys = Array.from({ length: READS }, () => keyOf(Math.floor(random() * N)));
  const cold = dropCaches();
  if (!cold) log('cannot drop the page cache (not root): cold figures are warm');
  const coldDir = await readAll(dir, keys);
  dropCaches();
  const coldVol = await readAll(vol, keys);
  const warmDir = await readAll(dir, keys);
  const warmVol = await readAll(vol, keys);
  const stats = await vol.stats();
  await vol.close();
  // The same warm reads through the store service (a process of its own, loopback HTTP), as the tiers reach it: what the hop costs.
  const [port, statusPort] = await freePorts(2);
  const server = spawn(
    process.execPath,
    [
      HEARTH_CLI,
      'store',
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      '--http',
      `127.0.0.1:${statusPort}`,
      '--dir',
      volRoot,
      '--min-free-bytes',
      '0',
      '--log-level',
      'warn',
    ],
    { stdio: 'inherit' },
  );
  const client = new HttpStore(`http://127.0.0.1:${port}`);
  let warmHttp: Awaited<ReturnType<typeof readAll>>;
  try {
    while ((await client.ready()) !== true) await new Promise((r) => setTimeout(r, 100));
    await readAll(client, keys.slice(0, 1000));
    warmHttp = await readAll(client, keys);
  } finally {
    await client.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  const volFiles = readdirSync(volRoot)
    .filter((f) => f.endsWith('.vol'))
    .map((f) => join(volRoot, f));
  const diskBytes = readdirSync(volRoot)
    .filter((f) => /\.(vol|idx)$/.test(f))
    .reduce((s, f) => s + statSync(join(volRoot, f)).size, 0);
  const overhead = (diskBytes - dataBytes(N)) / N;
  dropCaches();
  const device = await deviceReads(
    volFiles,
    thumbs.map((t) => t.length),
    READS,
    seededRandom(5),
  );
  const kernel = kernelBytesPerFile(dirRoot);
  log(`index scale: ${NEEDLES.toLocaleString('en')} needles`);
  const scale = await indexScale(join(ROOT, 'needles'));
  log(`durability: ${KILLS} kill -9s`);
  const dur = await durability(join(ROOT, 'kills'));
  const meanBatch = batches.reduce((a, b) => a + b, 0) / Math.max(1, batches.length);
  log(
    table([
      { what: 'durable writes/s', dir: round(writeDir), volumes: round(writeVol), ratio: round(writeVol / writeDir) },
      { what: 'cold reads/s', dir: round(coldDir.perS), volumes: round(coldVol.perS), ratio: round(coldVol.perS / coldDir.perS) },
      { what: 'cold read p50 ms', dir: coldDir.p50, volumes: coldVol.p50, ratio: round(coldVol.p50 / coldDir.p50) },
      { what: 'cold read p99 ms', dir: coldDir.p99, volumes: coldVol.p99, ratio: round(coldVol.p99 / coldDir.p99) },
      { what: 'warm reads/s', dir: round(warmDir.perS), volumes: round(warmVol.perS), ratio: round(warmVol.perS / warmDir.perS) },
      { what: 'warm read p99 ms', dir: warmDir.p99, volumes: warmVol.p99, ratio: round(warmVol.p99 / warmDir.p99) },
    ]),
  );
  log(
    `through the store service (loopback HTTP): warm reads/s ${round(warmHttp.perS)} (${round(warmHttp.perS / warmVol.perS)} of in-process), p50 ${warmHttp.p50} ms, p99 ${warmHttp.p99} ms`,
  );
  log(`device random reads/s ${round(device)}; volumes' cold reads are ${round((100 * coldVol.perS) / device)} % of it`);
  log(
    `writes per fsync (volumes, mean) ${round(meanBatch)}; disk overhead ${round(overhead)} bytes/object; index ${round(stats.indexBytesPerObject)} bytes/object at ${N.toLocaleString('en')}`,
  );
  log(
    `index at ${NEEDLES.toLocaleString('en')} needles: ${round(scale.bytesPerNeedle)} bytes/needle measured, restart ${round(scale.restartMs)} ms${scale.writePerS ? `, written at ${round(scale.writePerS)}/s` : ''}`,
  );
  log(
    `dir: ${kernel === undefined ? 'kernel slab bytes per file not measurable (not root)' : `${round(kernel)} kernel bytes per cached file (dentry + inode slabs)`}`,
  );
  log(`durability: ${dur.checked} acknowledged puts over ${KILLS} kill -9s, ${dur.lost} lost, ${dur.torn} torn tails cut`);
  const viaOrigin = await benchStoreThroughOrigin();
  return {
    bench: 'store',
    thumbnails: N,
    reads: READS,
    cold: cold,
    write_per_s_dir: round(writeDir),
    write_per_s_volumes: round(writeVol),
    cold_read_per_s_dir: round(coldDir.perS),
    cold_read_per_s_volumes: round(coldVol.perS),
    cold_read_p50_ms_dir: coldDir.p50,
    cold_read_p99_ms_dir: coldDir.p99,
    cold_read_p50_ms_volumes: coldVol.p50,
    cold_read_p99_ms_volumes: coldVol.p99,
    warm_read_per_s_dir: round(warmDir.perS),
    warm_read_per_s_volumes: round(warmVol.perS),
    warm_read_per_s_http: round(warmHttp.perS),
    warm_read_p99_ms_http: warmHttp.p99,
    device_read_per_s: round(device),
    cold_read_share_of_device: round(coldVol.perS / device),
    writes_per_fsync_volumes: round(meanBatch),
    index_bytes_per_needle: round(scale.bytesPerNeedle),
    needles: NEEDLES,
    restart_ms_10m: round(scale.restartMs),
    kernel_bytes_per_file_dir: kernel === undefined ? null : round(kernel),
    disk_overhead_bytes_per_object: round(overhead),
    acked_checked: dur.checked,
    acked_lost: dur.lost,
    torn_tails_cut: dur.torn,
    ...viaOrigin,
  };
}
