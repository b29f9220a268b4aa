/**
 * Part of `npm run bench -- store`: each driver behind the origin, as viewers reach it.
 * Real photographs at three sizes (about 5 KB, 50 KB and 500 KB), written through each
 * driver's store interface 16 at a time (puts/s), then read through the real origin
 * service 16 at a time (gets/s: the service reads the store and answers, as the front's
 * every image path does). Drivers in the same run: `dir` (files), `volumes` (the store
 * service, loopback HTTP) and `s3` (a real Ceph cluster started for the run: four OSDs
 * with three copies of every object, the RADOS Gateway), so the ratios say what the S3
 * hop costs the origin's read path on this machine.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { CephCluster } from '../ceph/index.js';
import { HEARTH_CLI } from '../common/index.js';
import { quantile } from '../common/random.js';
import { imagePath } from '../image/index.js';
import { DirStore, HttpStore, S3Store, type ObjectStore } from '../store/index.js';
import { freePort, sleep, table } from './common.js';

const SRC = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';
/** Objects per size class. */
const PER_CLASS = Number(process.env.HEARTH_BENCH_ORIGIN_OBJECTS ?? 300);
const GETS = Number(process.env.HEARTH_BENCH_ORIGIN_GETS ?? 6000);
const LANES = 16;
/** Widths giving about 5 KB, 50 KB and 500 KB of JPEG from these photographs. */
const CLASSES = [
  { name: '5KB', width: 120, quality: 80 },
  { name: '50KB', width: 500, quality: 85 },
  { name: '500KB', width: 1800, quality: 92 },
] as const;

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));

interface Figures {
  putPerS: number;
  getPerS: number;
  getP50Ms: number;
  getP99Ms: number;
  failed: number;
}

async function lanes(n: number, work: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      for (let i = next++; i < n; i = next++) await work(i);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function images(): Promise<{ key: string; data: Buffer }[]> {
  const photos = readdirSync(SRC)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => readFileSync(join(SRC, f)));
  if (photos.length === 0) throw new Error(`no photographs in ${SRC}; run infra/setup.sh first`);
  const out: { key: string; data: Buffer }[] = [];
  for (const [c, cls] of CLASSES.entries()) {
    const made = await Promise.all(
      photos.map((p) => sharp(p).rotate().resize(cls.width, cls.width, { fit: 'inside' }).jpeg({ quality: cls.quality }).toBuffer()),
    );
    for (let i = 0; i < PER_CLASS; i++) out.push({ key: imagePath(String(7_000_000 + c * 100_000 + i), 'z'), data: made[i % made.length]! });
  }
  return out;
}

async function throughOrigin(spec: string, store: ObjectStore, objects: { key: string; data: Buffer }[]): Promise<Figures> {
  const putPerS = await lanes(objects.length, async (i) => store.put(objects[i]!.key, objects[i]!.data));
  const [port, metrics] = [await freePort(), await freePort()];
  const origin = spawn(
    process.execPath,
    [HEARTH_CLI, 'origin', '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${metrics}`, '--store', spec, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const agent = new Agent({ connections: LANES });
  try {
    for (
      let i = 0;
      i < 200 &&
      !(await fetch(`http://127.0.0.1:${metrics}/readyz`).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    )
      await sleep(100);
    const ms: number[] = [];
    let failed = 0;
    const get = async (i: number) => {
      const o = objects[(i * 7919) % objects.length]!;
      const t = performance.now();
      const r = await request(`http://127.0.0.1:${port}${o.key}`, { dispatcher: agent });
      const body = Buffer.from(await r.body.arrayBuffer());
      if (r.statusCode !== 200 || !body.equals(o.data)) failed++;
      ms.push(performance.now() - t);
    };
    await lanes(Math.min(500, GETS), get);
    ms.length = 0;
    const getPerS = await lanes(GETS, get);
    ms.sort((a, b) => a - b);
    return { putPerS, getPerS, getP50Ms: round(quantile(ms, 0.5)), getP99Ms: round(quantile(ms, 0.99)), failed };
  } finally {
    await agent.close();
    origin.kill('SIGTERM');
    await new Promise((r) => origin.once('exit', r));
  }
}

export async function benchStoreThroughOrigin(): Promise<Record<string, unknown>> {
  const objects = await images();
  const sizes = objects.map((o) => o.data.length).sort((a, b) => a - b);
  log(
    `store through the origin: ${objects.length} photographs (${CLASSES.map((c) => c.name).join(', ')}; ${sizes[0]}–${sizes[sizes.length - 1]} bytes) per driver, ${GETS} gets through the origin service, ${LANES} at a time`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-store-origin-'));
  const results: Record<string, Figures> = {};

  log('dir');
  const dirSpec = join(dir, 'dir');
  results.dir = await throughOrigin(dirSpec, new DirStore(dirSpec), objects);

  log('volumes (the store service)');
  const [port, statusPort] = [await freePort(), await freePort()];
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
      join(dir, 'volumes'),
      '--min-free-bytes',
      '0',
      '--log-level',
      'warn',
    ],
    { stdio: 'inherit' },
  );
  const http = new HttpStore(`http://127.0.0.1:${port}`);
  try {
    while ((await http.ready()) !== true) await sleep(100);
    results.volumes = await throughOrigin(http.url, http, objects);
  } finally {
    await http.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }

  log('s3 (Ceph: four OSDs, three copies, the RADOS Gateway)');
  const ceph = new CephCluster({ dir: join(dir, 'ceph'), monPort: await freePort(), rgwPort: await freePort(), metricsPort: await freePort() });
  const started = Date.now();
  await ceph.start();
  const cephStartMs = Date.now() - started;
  const s3 = new S3Store(ceph.storeSpec);
  try {
    results.s3 = await throughOrigin(ceph.storeSpec, s3, objects);
  } finally {
    await s3.close();
    await ceph.destroy();
  }

  log(
    table(
      Object.entries(results).map(([driver, f]) => ({
        driver,
        puts_per_s: round(f.putPerS),
        gets_per_s_via_origin: round(f.getPerS),
        get_p50_ms: f.getP50Ms,
        get_p99_ms: f.getP99Ms,
        failed: f.failed,
      })),
    ),
  );
  const s3OverVolumes = round(results.s3.getPerS / results.volumes.getPerS);
  log(
    `through the origin, s3 serves ${s3OverVolumes}× the volumes' gets/s and ${round(results.s3.getPerS / results.dir.getPerS)}× dir's; it takes ${round(results.s3.putPerS / results.volumes.putPerS)}× the volumes' puts/s (each put is three copies on four OSDs); Ceph started in ${cephStartMs} ms`,
  );
  return {
    origin_objects: objects.length,
    origin_gets: GETS,
    put_per_s_dir: round(results.dir.putPerS),
    put_per_s_volumes_http: round(results.volumes.putPerS),
    put_per_s_s3: round(results.s3.putPerS),
    get_per_s_dir: round(results.dir.getPerS),
    get_per_s_volumes_http: round(results.volumes.getPerS),
    get_per_s_s3: round(results.s3.getPerS),
    get_p99_ms_dir: results.dir.getP99Ms,
    get_p99_ms_volumes_http: results.volumes.getP99Ms,
    get_p99_ms_s3: results.s3.getP99Ms,
    s3_get_over_volumes: s3OverVolumes,
    ceph_start_ms: cephStartMs,
    origin_failed: Object.values(results).reduce((s, f) => s + f.failed, 0),
  };
}
