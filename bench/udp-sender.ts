/**
 * Benchmark sender, run as its own process: pre-builds every datagram (wire format v1,
 * ts = its scheduled send time, signed if given a key), then sends them at a fixed
 * rate on a connected socket and prints one JSON line with what it did.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { computeSignature, parseHostPort } from '@hearth/api-hook';

export interface SenderJob {
  to: string;
  rate: number;
  durationMs: number;
  pathsPerHint: number;
  run: number;
  keyId?: string;
  key?: string;
}

export interface SenderReport {
  sent: number;
  elapsedMs: number;
  /** How far the sender fell behind its schedule at worst; large means the sender, not the warmer, limited the rate. */
  maxLagMs: number;
  bytes: number;
  errors: number;
}

function build(job: SenderJob, t0: number): Buffer[] {
  const total = Math.round((job.rate * job.durationMs) / 1000);
  const out: Buffer[] = new Array(total);
  for (let i = 0; i < total; i++) {
    const ts = Math.floor(t0 + (i * 1000) / job.rate);
    const paths: string[] = [];
    for (let j = 0; j < job.pathsPerHint; j++) paths.push(`"/photos/${job.run}/${i}_${j}.jpg"`);
    let s = `{"v":1,"ts":${ts},"viewer":"10.1.${(i >> 8) & 255}.${i & 255}","paths":[${paths.join(',')}]`;
    if (job.key && job.keyId) {
      s += `,"kid":"${job.keyId}"`;
      s = `${s},"sig":"${computeSignature(job.key, s)}"}`;
    } else s += '}';
    out[i] = Buffer.from(s);
  }
  return out;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as SenderJob;
  const { host, port } = parseHostPort(job.to);
  const socket = dgram.createSocket('udp4');
  let errors = 0;
  // ECONNREFUSED here means the receiver is gone; count it rather than die.
  socket.on('error', () => errors++);
  await new Promise<void>((r) => socket.connect(port, host, r));
  // Start a little in the future so building does not eat into the schedule.
  const buildStart = Date.now();
  const start = buildStart + 200 + Math.ceil((job.rate * job.durationMs) / 1e6) * 2;
  const datagrams = build(job, start);
  while (Date.now() < start) await new Promise((r) => setTimeout(r, 1));
  const p0 = performance.now();
  const perMs = job.rate / 1000;
  let i = 0;
  let maxLagMs = 0;
  let bytes = 0;
  while (i < datagrams.length) {
    const elapsed = performance.now() - p0;
    const due = Math.min(datagrams.length, Math.floor(elapsed * perMs) + 1);
    if (due - i > perMs) maxLagMs = Math.max(maxLagMs, (due - i) / perMs);
    for (; i < due; i++) {
      const d = datagrams[i] as Buffer;
      bytes += d.length;
      socket.send(d);
    }
    // Yield so send completions run; a timer would add a 1 ms floor per step.
    await new Promise((r) => setImmediate(r));
  }
  const report: SenderReport = { sent: i, elapsedMs: performance.now() - p0, maxLagMs, bytes, errors };
  await new Promise<void>((r) => socket.close(() => r()));
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

void main();
