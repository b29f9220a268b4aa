/**
 * Warmer ingest on loopback, sender in another process: the highest rate the warmer
 * keeps up with (< 0.1 % lost, < 0.1 % turned stale by queueing), for 1-path and
 * 20-path hints; beside it, the same search against a bare node:dgram counter (the
 * baseline: Node's own UDP ceiling here). Then api-hook's cost per hint().
 *
 * Pushes go to a proxy that accepts connections and never answers, with one push
 * slot: the queue stays full, and each new path is claimed in dedup and queued while
 * the oldest (stale) one is shed and released. So every path runs the whole ingest
 * path (parse, HMAC, age, route, policy, dedup, queue) and none costs an HTTP
 * request: the figure is ingest capacity. Push capacity belongs to the proxy tier.
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createHinter } from '@hearth/api-hook';
import { launchWarmer, type WarmerProcess } from '../test/helpers/warmer-process.js';
import type { SenderJob, SenderReport } from './udp-sender.js';
import { here, runChild, settle, table, udpRcvbufErrors } from './common.js';

const KEY_ID = 'bench';
const KEY = 'benchmark secret of decent length';
const DURATION_MS = Number(process.env.HEARTH_BENCH_MS ?? 2000);
const LOSS_MAX = 0.001;
const STALE_MAX = 0.001;

interface Trial {
  target: 'warmer' | 'warmer-signed' | 'warmers-x2' | 'bare';
  pathsPerHint: number;
  rate: number;
  sent: number;
  lost: number;
  stale: number;
  kernelDrops: number;
  senderLagMs: number;
  pass: boolean;
}

interface Receiver {
  address: string | string[];
  /** Datagrams received so far, and stale drops so far (0 for the bare baseline). */
  counts(): Promise<{ received: number; stale: number }>;
  stop(): Promise<void>;
}

/** A TCP server that accepts and never answers: the one push in flight never ends. */
async function silentProxy(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<import('node:net').Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

async function warmerReceiver(signed: boolean): Promise<Receiver & { process: WarmerProcess }> {
  const proxy = await silentProxy();
  const w = await launchWarmer({
    ttlMs: 50,
    keys: signed ? { [KEY_ID]: KEY } : {},
    allowPaths: '^/photos/[0-9]+/[0-9A-Za-z_]+\\.jpg$',
    proxy: proxy.url,
    colos: [{ name: 'sin', host: 'cache-sin.hearth.local', cidrs: ['10.0.0.0/8'] }],
    push: { concurrency: 1, queueMax: 10_000, timeoutMs: 600_000 },
    shutdownGraceMs: 0,
    log: { level: 'info', samplePerSecond: 1 },
  });
  return {
    process: w,
    address: w.udp,
    async counts() {
      const m = await w.metrics();
      return { received: m.get('hearth_warmer_datagrams_received_total') ?? 0, stale: m.get('hearth_warmer_datagrams_dropped_total{reason="stale"}') ?? 0 };
    },
    async stop() {
      await w.stop();
      proxy.close();
    },
  };
}

/** Two warmers, the design's way to scale out: api-hook splits each page between them by path. */
async function twoWarmers(): Promise<Receiver> {
  const ws = await Promise.all([warmerReceiver(false), warmerReceiver(false)]);
  return {
    address: ws.map((w) => w.address as string),
    async counts() {
      const c = await Promise.all(ws.map((w) => w.counts()));
      return { received: c.reduce((a, x) => a + x.received, 0), stale: c.reduce((a, x) => a + x.stale, 0) };
    },
    async stop() {
      await Promise.all(ws.map((w) => w.stop()));
    },
  };
}

async function bareReceiver(): Promise<Receiver> {
  const child = fork(here('udp-sink.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
  const ask = (): Promise<number> =>
    new Promise((r) => {
      child.once('message', (m: { count: number }) => r(m.count));
      child.send('count');
    });
  return {
    address: `127.0.0.1:${port}`,
    counts: async () => ({ received: await ask(), stale: 0 }),
    stop: () =>
      new Promise((r) => {
        child.once('exit', () => r());
        child.send('stop');
      }),
  };
}

async function trial(rx: Receiver, target: Trial['target'], pathsPerHint: number, rate: number, run: number): Promise<Trial> {
  const before = await rx.counts();
  const kernelBefore = udpRcvbufErrors();
  const signing = target === 'warmer-signed' ? { keyId: KEY_ID, key: KEY } : {};
  const job: SenderJob = { to: rx.address, rate, durationMs: DURATION_MS, pathsPerHint, run, ...signing };
  const report = await runChild<SenderReport>('udp-sender.js', job);
  const received = (await settle(async () => (await rx.counts()).received)) - before.received;
  const stale = (await rx.counts()).stale - before.stale;
  const lost = Math.max(0, report.sent - received);
  const t: Trial = {
    target,
    pathsPerHint,
    rate,
    sent: report.sent,
    lost,
    stale,
    kernelDrops: udpRcvbufErrors() - kernelBefore,
    senderLagMs: Math.round(report.maxLagMs),
    // A sender that fell far behind would blame the warmer for its own lag.
    pass: lost / report.sent < LOSS_MAX && stale / report.sent < STALE_MAX && report.maxLagMs < 25,
  };
  return t;
}

/** Climbs the ladder; stops after two failures in a row. Returns every trial. */
async function search(rx: Receiver, target: Trial['target'], pathsPerHint: number, ladder: number[], runBase: number): Promise<Trial[]> {
  // A first, discarded trial warms the JIT up; cold code turns ~1 % of hints stale.
  await trial(rx, target, pathsPerHint, ladder[0] as number, runBase + 99);
  const trials: Trial[] = [];
  let failures = 0;
  for (const [i, rate] of ladder.entries()) {
    // One retry per rate: a single 50 ms hiccup anywhere on a 2-core machine fails a
    // trial; both attempts are printed.
    let t: Trial | undefined;
    for (let attempt = 0; attempt < 2 && !t?.pass; attempt++) {
      t = await trial(rx, target, pathsPerHint, rate, runBase + i * 2 + attempt);
      trials.push(t);
      process.stderr.write(
        `  ${target} ${pathsPerHint}-path @ ${rate}/s: lost ${t.lost}, stale ${t.stale}, sender lag ${t.senderLagMs} ms ${t.pass ? 'ok' : 'FAIL'}\n`,
      );
    }
    failures = t?.pass ? 0 : failures + 1;
    if (failures === 2) break;
  }
  return trials;
}

const best = (trials: Trial[]): Trial | undefined => trials.filter((t) => t.pass).sort((a, b) => b.rate - a.rate)[0];

/**
 * Cost of hint() for a 20-path page: the call itself (what the API server's request
 * handler pays), and with the flush that signs and sends on the next turn.
 */
async function hintCost(): Promise<{ hint_us: number; hint_signed_us: number; hint_send_us: number; hint_signed_send_us: number; json_baseline_us: number }> {
  const sink = dgram.createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
  const to = `127.0.0.1:${sink.address().port}`;
  const page = Array.from({ length: 20 }, (_, i) => `/photos/123/${4567890 + i}_b.jpg`);
  const measure = async (signed: boolean): Promise<{ sync: number; send: number }> => {
    const hinter = createHinter({ warmers: [to], ...(signed ? { keyId: KEY_ID, key: KEY } : {}), maxPending: 100_000 });
    await new Promise((r) => setTimeout(r, 20));
    let sync = 0;
    let send = 0;
    const rounds = 60;
    const per = 1000;
    for (let round = 0; round < rounds; round++) {
      const t0 = performance.now();
      for (let i = 0; i < per; i++) hinter.hint({ paths: page, viewer: '203.0.113.7' });
      const t1 = performance.now();
      hinter.flush();
      const t2 = performance.now();
      // The first rounds warm the JIT up; they do not count.
      if (round >= 10) {
        sync += t1 - t0;
        send += t2 - t1;
      }
      await new Promise((r) => setImmediate(r));
    }
    await hinter.close();
    const n = (rounds - 10) * per;
    return { sync: (sync * 1000) / n, send: (send * 1000) / n };
  };
  const plain = await measure(false);
  const signed = await measure(true);
  // Baseline: JSON.stringify of the same hint, the least any JSON sender must do.
  let x = 0;
  const tb = performance.now();
  for (let i = 0; i < 50_000; i++) x += JSON.stringify({ v: 1, ts: Date.now(), viewer: '203.0.113.7', paths: page }).length;
  const baseline = ((performance.now() - tb) * 1000) / 50_000;
  sink.close();
  return {
    hint_us: +plain.sync.toFixed(3),
    hint_signed_us: +signed.sync.toFixed(3),
    hint_send_us: +(plain.sync + plain.send).toFixed(3),
    hint_signed_send_us: +(signed.sync + signed.send).toFixed(3),
    json_baseline_us: +(baseline + (x === 0 ? 1 : 0)).toFixed(3),
  };
}

export async function benchWarmer(): Promise<Record<string, unknown>> {
  const cores = availableParallelism();
  process.stderr.write(`warmer ingest benchmark: ${cores} cores, ${DURATION_MS} ms per trial, ttlMs 50\n`);
  const ladder1 = [50_000, 75_000, 90_000, 100_000, 110_000, 125_000, 150_000, 175_000, 200_000];
  const ladder20 = [10_000, 20_000, 25_000, 30_000, 40_000, 50_000, 65_000];

  const bare = await bareReceiver();
  const bare1 = await search(bare, 'bare', 1, ladder1, 1000);
  await bare.stop();

  // A fresh receiver per search: one search's overload must not weigh on the next.
  const fresh = async (make: () => Promise<Receiver>, f: (rx: Receiver) => Promise<Trial[]>): Promise<Trial[]> => {
    const rx = await make();
    try {
      return await f(rx);
    } finally {
      await rx.stop();
    }
  };
  const w1 = await fresh(
    () => warmerReceiver(false),
    (rx) => search(rx, 'warmer', 1, ladder1, 2000),
  );
  const w20 = await fresh(
    () => warmerReceiver(false),
    (rx) => search(rx, 'warmer', 20, ladder20, 3000),
  );
  const x2 = await fresh(twoWarmers, (rx) => search(rx, 'warmers-x2', 20, [40_000, 50_000, 60_000, 75_000], 6000));
  const s1 = await fresh(
    () => warmerReceiver(true),
    (rx) => search(rx, 'warmer-signed', 1, ladder1, 4000),
  );
  const s20 = await fresh(
    () => warmerReceiver(true),
    (rx) => search(rx, 'warmer-signed', 20, ladder20, 5000),
  );

  const all = [...bare1, ...w1, ...w20, ...x2, ...s1, ...s20];
  process.stdout.write(`\n${table(all.map((t) => ({ ...t, pass: t.pass ? 'yes' : 'no' })))}\n`);
  const b1 = best(bare1);
  const best1 = best(w1);
  const best20 = best(w20);
  const atBest = [best1, best20, best(x2), best(s1), best(s20)].filter((t): t is Trial => t !== undefined);
  const cost = await hintCost();
  const figures = {
    bench: 'warmer',
    cores,
    hints_per_s_1path: best1?.rate ?? 0,
    // Two warmers scale out as designed; the issue allows both cores for this figure.
    paths_per_s_20path: Math.max(best20?.rate ?? 0, best(x2)?.rate ?? 0) * 20,
    paths_per_s_20path_1warmer: (best20?.rate ?? 0) * 20,
    hints_per_s_20path: best20?.rate ?? 0,
    paths_per_s_20path_2warmers: (best(x2)?.rate ?? 0) * 20,
    hints_per_s_1path_signed: best(s1)?.rate ?? 0,
    paths_per_s_20path_signed: (best(s20)?.rate ?? 0) * 20,
    bare_udp_per_s: b1?.rate ?? 0,
    ratio_vs_bare_udp: b1 && best1 ? +(best1.rate / b1.rate).toFixed(3) : 0,
    loss_ratio: atBest.length ? Math.max(...atBest.map((t) => t.lost / t.sent)) : 1,
    stale_ratio: atBest.length ? Math.max(...atBest.map((t) => t.stale / t.sent)) : 1,
    ...cost,
    ratio_hint_vs_json: +(cost.hint_us / cost.json_baseline_us).toFixed(3),
  };
  process.stdout.write(
    `\n1-path: ${figures.hints_per_s_1path} hints/s, signed ${figures.hints_per_s_1path_signed} (bare node:dgram: ${figures.bare_udp_per_s}/s, ratio ${figures.ratio_vs_bare_udp}); ` +
      `20-path: ${figures.paths_per_s_20path} paths/s, signed ${figures.paths_per_s_20path_signed}; hint(): ${cost.hint_us} µs (signed ${cost.hint_signed_us} µs; with the flush that signs and sends: ${cost.hint_send_us} µs, signed ${cost.hint_signed_send_us} µs; JSON.stringify alone ${cost.json_baseline_us} µs)\n`,
  );
  return figures;
}
