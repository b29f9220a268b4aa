/**
 * What the origin front costs now that every image path goes through the origin service
 * (it alone knows a photo's secrets): stored sizes read through the front, 16 at a time,
 * from a `dir` store of real photographs' sizes. Baseline in the same run: the same front
 * serving the same files from disk itself (a topology without the service: how the front
 * served stored files before secrets). Both are real nginx; the service is the real
 * origin service, in this process's child.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { HEARTH_CLI } from '../common/index.js';
import { createSecrets, imagePath, readSecrets, secretImagePath } from '../image/index.js';
import { NginxInstance, renderOrigin } from '../proxy-config/index.js';
import { DirStore } from '../store/index.js';
import { parseTopology } from '../topology/index.js';
import { freePort, sleep, table } from './common.js';

const SRC = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';
const PHOTOS = 2000;
const REQUESTS = 20_000;

async function throughput(listen: string, paths: readonly string[]): Promise<{ perS: number; p50: number; p99: number; failed: number }> {
  const agent = new Agent({ connections: 16 });
  const ms: number[] = [];
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < REQUESTS) {
        const path = paths[next++ % paths.length]!;
        const t = performance.now();
        const r = await request(`http://${listen}${path}`, { dispatcher: agent });
        await r.body.dump();
        if (r.statusCode !== 200) failed++;
        ms.push(performance.now() - t);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  await agent.close();
  ms.sort((a, b) => a - b);
  return { perS: Math.round(REQUESTS / wall), p50: +ms[Math.floor(ms.length / 2)]!.toFixed(2), p99: +ms[Math.floor(ms.length * 0.99)]!.toFixed(2), failed };
}

export async function benchOrigin(): Promise<Record<string, unknown>> {
  if (!existsSync(SRC)) throw new Error(`no photographs in ${SRC}; run infra/setup.sh first`);
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-origin-'));
  const root = join(dir, 'store');
  const store = new DirStore(root);
  // 640 px sizes of the photographs, under 2,000 ids, each with its secrets.
  const sizes = await Promise.all(
    readdirSync(SRC)
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .slice(0, 8)
      .map((f) =>
        sharp(readFileSync(join(SRC, f)))
          .rotate()
          .resize(640, 640, { fit: 'inside' })
          .jpeg({ quality: 85 })
          .toBuffer(),
      ),
  );
  const plain: string[] = [];
  const secret: string[] = [];
  for (let i = 0; i < PHOTOS; i++) {
    const id = String(3_000_000 + i);
    await store.put(imagePath(id, 'z'), sizes[i % sizes.length]!);
    await createSecrets(store, id);
    plain.push(imagePath(id, 'z'));
    secret.push(secretImagePath(id, (await readSecrets(store, id))!.size, 'z'));
  }
  const [frontPort, servicePort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const base = { proxy: { listen: '127.0.0.1:1' }, colos: [{ name: 'b', host: 'b.bench', nodes: ['127.0.0.1:2'] }] };
  const withService = parseTopology({
    ...base,
    origin: { listen: `127.0.0.1:${frontPort}`, root, service: `127.0.0.1:${servicePort}`, serviceMetrics: `127.0.0.1:${metricsPort}` },
  });
  const staticOnly = parseTopology({ ...base, origin: { listen: `127.0.0.1:${frontPort}`, root } });
  process.stderr.write(`origin benchmark: ${PHOTOS} photos' 640 px sizes (dir store), ${REQUESTS} reads 16 at a time through the front\n`);

  const front = async (t: typeof withService, sub: string) => {
    const n = new NginxInstance(renderOrigin(t, join(dir, sub)));
    n.write();
    await n.start();
    return n;
  };
  // Baseline: the front serves the files itself.
  let n = await front(staticOnly, 'static');
  const before = await throughput(`127.0.0.1:${frontPort}`, plain);
  await n.stop();
  // Now: every path to the origin service, which checks the secret and reads the store.
  const service = spawn(
    process.execPath,
    [HEARTH_CLI, 'origin', '--listen', `127.0.0.1:${servicePort}`, '--http', `127.0.0.1:${metricsPort}`, '--store', root, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    for (
      let i = 0;
      i < 100 &&
      !(await fetch(`http://127.0.0.1:${metricsPort}/healthz`).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    )
      await sleep(100);
    n = await front(withService, 'service');
    const after = await throughput(`127.0.0.1:${frontPort}`, secret);
    await n.stop();
    const figures = {
      bench: 'origin',
      photos: PHOTOS,
      requests: REQUESTS,
      static_per_s: before.perS,
      static_p50_ms: before.p50,
      static_p99_ms: before.p99,
      service_per_s: after.perS,
      service_p50_ms: after.p50,
      service_p99_ms: after.p99,
      service_over_static: +(after.perS / before.perS).toFixed(2),
      failed: before.failed + after.failed,
    };
    process.stderr.write(
      `${table([
        { through: 'front, files from disk (before secrets)', per_s: before.perS, p50_ms: before.p50, p99_ms: before.p99 },
        { through: 'front → origin service (secret checked)', per_s: after.perS, p50_ms: after.p50, p99_ms: after.p99 },
      ])}\nthe service path serves ${figures.service_over_static}× the static path's reads/s\n`,
    );
    return figures;
  } finally {
    service.kill('SIGTERM');
  }
}
