/**
 * Starts a warmer as its own process through the `hearth` CLI and waits until it
 * listens (for benchmarks and end-to-end tests; the stack starts its daemons itself).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEARTH_CLI, scrape } from '../../common/index.js';

export interface WarmerProcess {
  readonly child: ChildProcess;
  readonly udp: string;
  readonly http: string;
  /** Every line the warmer logged so far (pino JSON). */
  readonly log: string[];
  metrics(): Promise<Map<string, number>>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export interface LaunchOptions {
  /** Extra arguments for node itself, e.g. ['--cpu-prof']. */
  nodeArgs?: string[];
  /** Where the config file is written (default: a new temp dir). */
  dir?: string;
  startTimeoutMs?: number;
  /** A command the warmer runs under, e.g. ['ip', 'netns', 'exec', NS] to run it on a test host. */
  wrap?: string[];
}

/**
 * `config` is a warmer config v1 object; `udp` and `http` default to port 0 here, and
 * the real addresses are read from the warmer's "warmer listening" log line (so the
 * log level must be info or lower).
 */
export async function launchWarmer(config: Record<string, unknown>, o: LaunchOptions = {}): Promise<WarmerProcess> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'hearth-warmer-'));
  const file = join(dir, 'warmer.json');
  writeFileSync(file, JSON.stringify({ udp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, ...config }));
  const argv = [process.execPath, ...(o.nodeArgs ?? []), HEARTH_CLI, 'warmer', '--config', file];
  const [cmd, ...args] = [...(o.wrap ?? []), ...argv] as [string, ...string[]];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  // Whatever happens to the caller, it must not leave a warmer behind.
  const reap = (): void => void child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const log: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let startTimer: NodeJS.Timeout | undefined;
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
    void exited.then((code) => reject(new Error(`warmer exited with ${code} before listening: ${stderr.trim()}`)));
    startTimer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`warmer did not log "warmer listening" within the time limit (log level must be info or lower): ${stderr.trim()}`));
    }, o.startTimeoutMs ?? 10_000);
  }).finally(() => clearTimeout(startTimer));
  return {
    child,
    ...listening,
    log,
    metrics: () => scrape(listening.http),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
