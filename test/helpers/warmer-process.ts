/** Starts the real warmer through the `hearth` CLI and talks to it over its sockets. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HEARTH_CLI = fileURLToPath(new URL('../../cli/hearth.js', import.meta.url));

export interface WarmerProcess {
  readonly child: ChildProcess;
  readonly udp: string;
  readonly http: string;
  /** Everything the warmer logged so far (JSON lines). */
  readonly log: string[];
  metrics(): Promise<Map<string, number>>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startWarmer(config: Record<string, unknown>): Promise<WarmerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-warmer-'));
  const file = join(dir, 'warmer.json');
  writeFileSync(file, JSON.stringify({ udp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, ...config }));
  const child = spawn(process.execPath, [HEARTH_CLI, 'warmer', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Pass or fail, a test run must not leave a warmer behind.
  const reap = (): void => void child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const log: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const listening = await new Promise<{ udp: string; http: string }>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        log.push(line);
        let rec: { msg?: string; udp?: string; http?: string };
        try {
          rec = JSON.parse(line) as typeof rec;
        } catch {
          continue;
        }
        if (rec.msg === 'warmer listening' && rec.udp && rec.http) resolve({ udp: rec.udp, http: rec.http });
      }
    });
    void exited.then((code) => reject(new Error(`warmer exited with ${code} before listening: ${stderr}`)));
    setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`warmer did not log "warmer listening" within 10 s (log level must be info or lower): ${stderr}`));
    }, 10_000).unref();
  });
  return {
    child,
    ...listening,
    log,
    async metrics() {
      const text = await (await fetch(`http://${listening.http}/metrics`)).text();
      return parseMetrics(text);
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** `name{labels} value` lines into a map keyed by the text before the value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Polls until `check` holds; no fixed sleeps, bounded by `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
