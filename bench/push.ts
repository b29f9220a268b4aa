/**
 * Push capacity end to end on this machine (sender, warmer and nginx share the cores):
 *
 * - a real nginx as the proxy (own prefix, one worker, access log off), answering at once,
 *   and in a second series after 150 ms (`echo_sleep`, Debian's libnginx-mod-http-echo);
 * - wrk's HEAD rate through the same nginx: the ceiling for one request type;
 * - the seed's Warmer design (bench/seed_warmer.py: Python, ThreadPool(100), one
 *   keep-alive connection per thread) as the baseline;
 * - Hearth's warmer at rising rates, with 1-path and 20-path hints; then two warmers
 *   side by side, the sender splitting each page between them by rendezvous hashing as
 *   api-hook does (the design's scale-out: each warmer owns its share of the paths, so
 *   dedup stays exact, and the push path gets a second process).
 *
 * A rate passes when at least 99 % of the hinted paths reached nginx (its stub_status
 * request count) and the sender kept its schedule. Ends with one JSON line.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NginxInstance } from '../proxy-config/index.js';
import { launchWarmer, type WarmerProcess } from '../test/helpers/warmer-process.js';
import { freePort, here, runChild, settle, sleep, table } from './common.js';
import type { SenderJob, SenderReport } from './udp-sender.js';
import { clientRate, type ClientRow } from './push-client.js';

const run = promisify(execFile);
const DURATION_MS = Number(process.env.HEARTH_BENCH_MS ?? 2000);
const PUSHED_MIN = 0.99;
const ECHO_MODULE = '/usr/lib/nginx/modules/ngx_http_echo_module.so';
const COLO_HOST = 'cache-sin.hearth.local';

interface Proxy {
  address: string;
  /** Requests nginx has answered so far (each read of stub_status is one more). */
  requests(): Promise<number>;
  stop(): Promise<void>;
}

/** One nginx, one worker, no access log: `/` answers 200 at once, or after `slowMs`. */
export async function benchNginx(slowMs: number): Promise<Proxy> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-nginx-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const answer = slowMs > 0 ? `echo_sleep ${slowMs / 1000};\n      echo ok;` : 'return 200;';
  const config = `${slowMs > 0 ? `load_module ${ECHO_MODULE};\n` : ''}${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  client_body_temp_path ${join(dir, 'tmp')};
  proxy_temp_path ${join(dir, 'tmp')};
  fastcgi_temp_path ${join(dir, 'tmp')};
  uwsgi_temp_path ${join(dir, 'tmp')};
  scgi_temp_path ${join(dir, 'tmp')};
  server {
    listen ${address} backlog=4096;
    location = /nginx_status { stub_status; }
    location / {
      ${answer}
    }
  }
}
`;
  const nginx = new NginxInstance({ name: 'bench-proxy', role: 'proxy', dir, listen: address, config });
  nginx.write();
  await nginx.test();
  await nginx.start();
  return {
    address,
    async requests() {
      const text = await (await fetch(`http://${address}/nginx_status`)).text();
      // "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \n..."
      return Number(/\n\s*\d+\s+\d+\s+(\d+)/.exec(text)?.[1] ?? Number.NaN);
    },
    stop: () => nginx.stop(),
  };
}

async function wrk(address: string, connections: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-wrk-'));
  const script = join(dir, 'head.lua');
  writeFileSync(script, `wrk.method = "HEAD"\nwrk.headers["Host"] = "${COLO_HOST}"\n`);
  const { stdout } = await run('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${Math.max(2, Math.round(DURATION_MS / 1000))}s`,
    '-s',
    script,
    `http://${address}/photos/1/1_z.jpg`,
  ]);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
}

interface Pusher {
  name: string;
  /** Where hints go: one warmer, or several sharing the paths by rendezvous hashing. */
  udp: string | string[];
  stop(): Promise<void>;
}

export interface HearthOptions {
  concurrency: number;
  perColoConcurrency?: number;
  /** The warmer's push client (default: native, as setup builds it). */
  client?: 'native' | 'undici';
  nodeArgs?: string[];
}

export async function hearthWarmer(proxy: string, o: HearthOptions): Promise<Pusher & { process: WarmerProcess }> {
  const { concurrency, perColoConcurrency, client = 'native' } = o;
  const w = await launchWarmer(
    {
      ttlMs: 50,
      allowPaths: '^/photos/[0-9]+/[0-9A-Za-z_]+\\.jpg$',
      proxy: `http://${proxy}`,
      colos: [{ name: 'sin', host: COLO_HOST, cidrs: ['10.0.0.0/8'] }],
      push: { client, concurrency, ...(perColoConcurrency ? { perColoConcurrency } : {}), queueMax: 1_000_000, timeoutMs: 5000 },
      shutdownGraceMs: 0,
      log: { level: 'info', samplePerSecond: 1 },
    },
    { nodeArgs: o.nodeArgs ?? [] },
  );
  return { name: client === 'native' ? 'hearth' : 'hearth (undici)', udp: w.udp, process: w, stop: async () => void (await w.stop()) };
}

async function seedWarmer(proxy: string): Promise<Pusher> {
  const child: ChildProcess = spawn('python3', [here('../../bench/seed_warmer.py'), proxy, COLO_HOST, '50'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`seed_warmer.py exited with ${code}`)));
  });
  return {
    name: 'seed design',
    udp: `127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    },
  };
}

interface Trial {
  pusher: string;
  series: string;
  pathsPerHint: number;
  rate: number;
  paths: number;
  pushed: number;
  senderLagMs: number;
  pass: boolean;
}

let runId = 1000;

export async function trial(p: Pusher, proxy: Proxy, series: string, pathsPerHint: number, rate: number): Promise<Trial> {
  const before = await proxy.requests();
  const job: SenderJob = { to: p.udp, rate, durationMs: DURATION_MS, pathsPerHint, run: runId++ };
  const report = await runChild<SenderReport>('udp-sender.js', job);
  let reads = 0;
  const after = await settle(
    async () => {
      reads++;
      return proxy.requests();
    },
    series === 'slow150' ? 400 : 200,
    15_000,
  );
  // Pages, not datagrams: with two warmers a page is one datagram to each.
  const paths = report.pages * pathsPerHint;
  // Every stub_status read is a request too.
  const pushed = after - before - reads - 1;
  return {
    pusher: p.name,
    series,
    pathsPerHint,
    rate,
    paths,
    pushed,
    senderLagMs: Math.round(report.maxLagMs),
    pass: pushed >= PUSHED_MIN * paths && report.maxLagMs < 25,
  };
}

/** Climbs the ladder, one retry per rate; stops after two failed rates in a row. */
async function search(p: Pusher, proxy: Proxy, series: string, pathsPerHint: number, ladder: number[]): Promise<Trial[]> {
  await trial(p, proxy, series, pathsPerHint, ladder[0] as number); // warms the JIT up; not counted
  const out: Trial[] = [];
  let failures = 0;
  for (const rate of ladder) {
    let t: Trial | undefined;
    for (let attempt = 0; attempt < 2 && !t?.pass; attempt++) {
      t = await trial(p, proxy, series, pathsPerHint, rate);
      out.push(t);
      process.stderr.write(
        `  ${p.name} ${series} ${pathsPerHint}-path @ ${rate} hints/s: ${t.pushed}/${t.paths} pushed, sender lag ${t.senderLagMs} ms ${t.pass ? 'ok' : 'FAIL'}\n`,
      );
    }
    failures = t?.pass ? 0 : failures + 1;
    if (failures === 2) break;
    await sleep(200);
  }
  return out;
}

const bestPaths = (trials: Trial[]): number => Math.max(0, ...trials.filter((t) => t.pass).map((t) => t.rate * t.pathsPerHint));

export async function benchPush(): Promise<Record<string, unknown>> {
  const cores = availableParallelism();
  const trials: Trial[] = [];
  process.stderr.write(`push: ${cores} cores, ${DURATION_MS} ms per trial, pass = ≥ ${PUSHED_MIN * 100} % of hinted paths at nginx\n`);

  const fast = await benchNginx(0);
  let wrkHead = 0;
  const clientRows: ClientRow[] = [];
  let seedDesign = 0;
  let push1 = 0;
  let pushUndici = 0;
  let push20 = 0;
  let sharded1 = 0;
  let sharded20 = 0;
  try {
    wrkHead = Math.max(await wrk(fast.address, 256), await wrk(fast.address, 64));
    process.stderr.write(`  wrk HEAD through nginx: ${Math.round(wrkHead)}/s\n`);
    for (const [api, connections, pipelining] of [
      ['request', 256, 1],
      ['dispatch', 256, 1],
      ['dispatch', 32, 1],
      ['dispatch', 4, 32],
      ['dispatch', 2, 64],
    ] as const) {
      const per_s = await clientRate(fast.address, api, connections, pipelining, DURATION_MS);
      clientRows.push({ api, connections, pipelining, per_s });
      process.stderr.write(`  undici ${api}() ${connections} connections × ${pipelining}: ${per_s}/s\n`);
    }
    const seed = await seedWarmer(fast.address);
    try {
      const t = await search(seed, fast, 'fast', 1, [1000, 2000, 3000, 4000, 6000, 8000, 12000]);
      trials.push(...t);
      seedDesign = bestPaths(t);
    } finally {
      await seed.stop();
    }
    const u = await hearthWarmer(fast.address, { concurrency: 256, client: 'undici' });
    try {
      const t = await search(u, fast, 'fast', 1, [5000, 10000, 15000, 20000, 30000]);
      trials.push(...t);
      pushUndici = bestPaths(t);
    } finally {
      await u.stop();
    }
    const w = await hearthWarmer(fast.address, { concurrency: 256 });
    try {
      const t1 = await search(w, fast, 'fast', 1, [5000, 10000, 20000, 30000, 40000, 50000, 60000, 70000, 80000, 100000]);
      const t20 = await search(w, fast, 'fast', 20, [250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000]);
      trials.push(...t1, ...t20);
      push1 = bestPaths(t1);
      push20 = bestPaths(t20);
    } finally {
      await w.stop();
    }
    const pair = [await hearthWarmer(fast.address, { concurrency: 256 }), await hearthWarmer(fast.address, { concurrency: 256 })];
    const both: Pusher = { name: 'hearth ×2', udp: pair.map((x) => x.udp as string), stop: async () => void (await Promise.all(pair.map((x) => x.stop()))) };
    try {
      const t1 = await search(both, fast, 'fast', 1, [5000, 10000, 20000, 30000, 40000, 50000, 60000, 70000, 80000]);
      const t20 = await search(both, fast, 'fast', 20, [250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000]);
      trials.push(...t1, ...t20);
      sharded1 = bestPaths(t1);
      sharded20 = bestPaths(t20);
    } finally {
      await both.stop();
    }
  } finally {
    await fast.stop();
  }

  const slow = await benchNginx(150);
  let slow1 = 0;
  try {
    // One colo may use every slot: 4,096 pushes of 150 ms in flight carry 27,000/s sustained.
    const w = await hearthWarmer(slow.address, { concurrency: 4096, perColoConcurrency: 4096 });
    try {
      const t = await search(w, slow, 'slow150', 1, [1000, 2500, 5000, 10000, 15000, 20000, 25000, 30000, 40000]);
      trials.push(...t);
      slow1 = bestPaths(t);
    } finally {
      await w.stop();
    }
  } finally {
    await slow.stop();
  }

  process.stdout.write(
    `${table(clientRows.map((c) => ({ 'undici API (bare client, no warmer)': `${c.api}()`, connections: c.connections, pipelining: c.pipelining, 'per s': c.per_s })))}\n\n`,
  );
  process.stdout.write(
    `${table(trials.map((t) => ({ pusher: t.pusher, series: t.series, 'paths/hint': t.pathsPerHint, 'hints/s': t.rate, paths: t.paths, pushed: t.pushed, 'lag ms': t.senderLagMs, pass: t.pass ? 'yes' : 'NO' })))}\n\n`,
  );
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  process.stdout.write(
    `${table([
      { what: 'wrk -t1 HEAD through the same nginx (ceiling)', 'per s': Math.round(wrkHead) },
      { what: "seed's design (Python, ThreadPool(100), keep-alive)", 'per s': seedDesign },
      { what: 'Hearth, 1-path hints, pushes (undici push client and node:dgram, as before)', 'per s': pushUndici },
      { what: 'Hearth, 1-path hints, pushes', 'per s': push1 },
      { what: 'Hearth, 20-path hints, pushes (paths)', 'per s': push20 },
      { what: 'Hearth, 1-path hints, every push 150 ms', 'per s': slow1 },
      { what: 'Hearth, two warmers sharing the paths, 1-path hints', 'per s': sharded1 },
      { what: 'Hearth, two warmers sharing the paths, 20-path hints (paths)', 'per s': sharded20 },
    ])}\n`,
  );
  return {
    bench: 'push',
    cores,
    wrk_head_per_s: Math.round(wrkHead),
    push_per_s: push1,
    push_per_s_20path: push20,
    push_per_s_slow150: slow1,
    ratio_vs_wrk: r(push1 / Math.max(1, wrkHead)),
    seed_design_per_s: seedDesign,
    client_request_per_s: clientRows.find((c) => c.api === 'request')?.per_s ?? 0,
    client_dispatch_per_s: clientRows.find((c) => c.api === 'dispatch' && c.connections === 256)?.per_s ?? 0,
    ratio_vs_seed_design: r(push1 / Math.max(1, seedDesign)),
    push_per_s_2warmers: sharded1,
    push_per_s_20path_2warmers: sharded20,
    push_per_s_undici: pushUndici,
    ratio_vs_undici: r(push1 / Math.max(1, pushUndici)),
  };
}
