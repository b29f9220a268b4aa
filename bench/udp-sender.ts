/**
 * Benchmark sender, run as its own process: pre-builds every datagram (wire format v1,
 * ts = its scheduled send time, signed if given a key), then sends them at a fixed
 * rate on a connected socket and prints one JSON line with what it did.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Rendezvous, computeSignature, parseHostPort } from '@hearth/api-hook';

export interface SenderJob {
  /** One warmer, or several: then each page's paths are split by rendezvous hashing, as api-hook does. */
  to: string | string[];
  rate: number;
  durationMs: number;
  pathsPerHint: number;
  run: number;
  keyId?: string;
  key?: string;
}

export interface SenderReport {
  /** Datagrams sent. */
  sent: number;
  /** Pages (hints from the API server's point of view) sent. */
  pages: number;
  elapsedMs: number;
  /** How far the sender fell behind its schedule at worst; large means the sender, not the warmer, limited the rate. */
  maxLagMs: number;
  bytes: number;
  errors: number;
}

/** Datagrams of page i, each with the index of the warmer it goes to. */
function build(job: SenderJob, targets: string[], t0: number): [number, Buffer][][] {
  const ring = new Rendezvous(targets, targets);
  const total = Math.round((job.rate * job.durationMs) / 1000);
  const out = new Array<[number, Buffer][]>(total);
  for (let i = 0; i < total; i++) {
    const ts = Math.floor(t0 + (i * 1000) / job.rate);
    const groups = new Map<number, string[]>();
    for (let j = 0; j < job.pathsPerHint; j++) {
      const path = `/photos/${job.run}/${i}_${j}.jpg`;
      const t = ring.pick(path);
      groups.set(t, [...(groups.get(t) ?? []), `"${path}"`]);
    }
    out[i] = [...groups].map(([t, paths]) => {
      let s = `{"v":1,"ts":${ts},"viewer":"10.1.${(i >> 8) & 255}.${i & 255}","paths":[${paths.join(',')}]`;
      if (job.key && job.keyId) {
        s += `,"kid":"${job.keyId}"`;
        s = `${s},"sig":"${computeSignature(job.key, s)}"}`;
      } else s += '}';
      return [t, Buffer.from(s)];
    });
  }
  return out;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as SenderJob;
  const targets = Array.isArray(job.to) ? job.to : [job.to];
  let errors = 0;
  const sockets = await Promise.all(
    targets.map(async (to) => {
      const { host, port } = parseHostPort(to);
      const socket = dgram.createSocket('udp4');
      // ECONNREFUSED here means the receiver is gone; count it rather than die.
      socket.on('error', () => errors++);
      await new Promise<void>((r) => socket.connect(port, host, r));
      return socket;
    }),
  );
  // Each ts is its datagram's scheduled send time, so sending must not start before
  // building ends: time a small build, then schedule the real one with room to spare.
  const calibrate = { ...job, durationMs: Math.min(job.durationMs, (2000 * 1000) / job.rate) };
  const c0 = performance.now();
  build(calibrate, targets, Date.now());
  const perPageMs = (performance.now() - c0) / Math.max(1, Math.round((calibrate.rate * calibrate.durationMs) / 1000));
  const start = Date.now() + 100 + Math.ceil(perPageMs * ((job.rate * job.durationMs) / 1000) * 2);
  const pages = build(job, targets, start);
  if (Date.now() >= start) throw new Error('building the datagrams overran the schedule; their ts would be stale');
  while (Date.now() < start) await new Promise((r) => setTimeout(r, 1));
  const p0 = performance.now();
  const perMs = job.rate / 1000;
  let i = 0;
  let sent = 0;
  let maxLagMs = 0;
  let bytes = 0;
  while (i < pages.length) {
    const elapsed = performance.now() - p0;
    const due = Math.min(pages.length, Math.floor(elapsed * perMs) + 1);
    if (due - i > perMs) maxLagMs = Math.max(maxLagMs, (due - i) / perMs);
    for (; i < due; i++) {
      for (const [t, d] of pages[i] as [number, Buffer][]) {
        bytes += d.length;
        sent++;
        (sockets[t] as dgram.Socket).send(d);
      }
    }
    // Caught up: sleep until the next millisecond's datagrams are due rather than spin.
    // A spinning sender would hold a core the warmer and nginx share with it, where an
    // API server only pays for its sends; sending in 1 ms steps ages hints by ≤ 1 ms.
    if (i < pages.length && (i + 1) / perMs - (performance.now() - p0) > 0.5) await new Promise((r) => setTimeout(r, 1));
    else await new Promise((r) => setImmediate(r));
  }
  const report: SenderReport = { sent, pages: i, elapsedMs: performance.now() - p0, maxLagMs, bytes, errors };
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

void main();
