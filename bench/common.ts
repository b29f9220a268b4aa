import { execFile, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Sharp } from 'sharp';

export const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url));

/** Runs a bench script as a child process and parses the JSON line it prints last. */
export function runChild<T>(script: string, arg: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(here(script), [JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`${script} exited with ${code}`));
      else resolve(JSON.parse(last) as T);
    });
  });
}

/** Kernel-wide UDP receive-buffer overflows so far (Linux /proc/net/snmp). */
export function udpRcvbufErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    const names = lines[0]?.split(/\s+/) ?? [];
    const values = lines[1]?.split(/\s+/) ?? [];
    return Number(values[names.indexOf('RcvbufErrors')] ?? 0);
  } catch {
    return 0;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `read` returns the same value twice `quietMs` apart (a consumer that has caught up). */
export async function settle(read: () => Promise<number>, quietMs = 150, maxMs = 10_000): Promise<number> {
  const end = Date.now() + maxMs;
  let last = await read();
  for (;;) {
    await sleep(quietMs);
    const now = await read();
    if (now === last || Date.now() > end) return now;
    last = now;
  }
}

export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0] as object);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padStart(width[i] as number)).join('  ');
  return [line(cols), ...rows.map((r) => line(cols.map((c) => String(r[c]))))].join('\n');
}

/** Runs `work` over `items` with `lanes` in parallel; returns wall seconds. */
export async function parallel<T>(items: T[], lanes: number, work: (item: T) => Promise<void>): Promise<number> {
  const queue = [...items];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let x = queue.shift(); x !== undefined; x = queue.shift()) await work(x);
    }),
  );
  return (performance.now() - t0) / 1000;
}

/** A TCP port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** Debian's butteraugli distance between two images (as PNGs written in `dir`): the second opinion on a perceptual choice. */
export async function butteraugli(dir: string, a: Sharp, b: Sharp): Promise<number> {
  const pa = join(dir, 'ba-a.png');
  const pb = join(dir, 'ba-b.png');
  await a.png().toFile(pa);
  await b.png().toFile(pb);
  const { stdout } = await promisify(execFile)('butteraugli', [pa, pb]);
  return Number(stdout.trim());
}
