/** Runs one nginx instance from its own prefix directory: test, start, stop, status. */
import { isAlive as alive, livePid } from '../common/index.js';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RenderedInstance } from './render.js';
import { HearthError } from '../common/index.js';

const run = promisify(execFile);

export function nginxBinary(): string {
  if (process.env.HEARTH_NGINX) return process.env.HEARTH_NGINX;
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
}

export class NginxError extends HearthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HEARTH_ERR_NGINX', message, options);
  }
}

export class NginxInstance {
  readonly conf: string;
  readonly pidFile: string;
  readonly errorLog: string;
  readonly accessLog: string;

  constructor(readonly inst: RenderedInstance) {
    this.conf = join(inst.dir, 'nginx.conf');
    this.pidFile = join(inst.dir, 'nginx.pid');
    this.errorLog = join(inst.dir, 'logs', 'error.log');
    this.accessLog = join(inst.dir, 'logs', 'access.log');
  }

  /** Writes the config and the directories it names. */
  write(): void {
    for (const d of ['logs', 'tmp', 'cache']) mkdirSync(join(this.inst.dir, d), { recursive: true });
    writeFileSync(this.conf, this.inst.config);
  }

  private args(...extra: string[]): string[] {
    return ['-p', this.inst.dir, '-c', this.conf, '-e', this.errorLog, ...extra];
  }

  /** `nginx -t` (under `wrap` when given): throws with nginx's own message when the config is bad. */
  async test(wrap: readonly string[] = []): Promise<void> {
    try {
      // nginx -t binds the listen addresses: on a test host, it must run there.
      const [cmd, ...args] = [...wrap, nginxBinary(), ...this.args('-t', '-q')] as [string, ...string[]];
      await run(cmd, args);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new NginxError(`nginx -t failed for ${this.inst.name}: ${(e.stderr ?? e.message).trim()}`);
    }
  }

  pid(): number | undefined {
    return livePid(this.pidFile);
  }

  /** The command that starts the master (daemonised), under `wrap` when given (`ip netns exec NS`: on a test host). */
  command(wrap: readonly string[] = []): [string, ...string[]] {
    return [...wrap, nginxBinary(), ...this.args()] as [string, ...string[]];
  }

  /** Starts the master (daemonised); resolves once its pid file names a live process. */
  async start(wrap: readonly string[] = []): Promise<number> {
    const running = this.pid();
    if (running) return running;
    try {
      const [cmd, ...args] = this.command(wrap);
      await run(cmd, args);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new NginxError(`nginx ${this.inst.name} did not start: ${(e.stderr ?? e.message).trim()}`);
    }
    for (let i = 0; i < 100; i++) {
      const pid = this.pid();
      if (pid) return pid;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new NginxError(`nginx ${this.inst.name} wrote no pid file; see ${this.errorLog}`);
  }

  /** Graceful stop (QUIT), then TERM and KILL if it lingers; only the pid this instance wrote. */
  async stop(timeoutMs = 5000): Promise<void> {
    const pid = this.pid();
    if (!pid) return;
    const signals: NodeJS.Signals[] = ['SIGQUIT', 'SIGTERM', 'SIGKILL'];
    for (const sig of signals) {
      try {
        process.kill(pid, sig);
      } catch {
        return;
      }
      const end = Date.now() + timeoutMs / signals.length;
      while (Date.now() < end) {
        if (!alive(pid)) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}
