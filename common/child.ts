/**
 * Child processes tied to our lifetime. A kill -9 of a batch left its cjxl children
 * writing temp files into the store while the next run cleaned up (issue 9), so every
 * tool we spawn runs under `setpriv --pdeathsig SIGKILL`: the kernel kills it when we
 * die, however we die. setpriv is util-linux's, in every Debian; without it the tool
 * runs as is and the store's run lock and temp-name cleanup are the only guard.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

function tied(cmd: string, args: readonly string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', cmd, ...args]] : [cmd, [...args]];
}

/** execFile, promisified, with the child killed if this process dies. Text output. */
export function runTied(cmd: string, args: readonly string[], opts: ExecFileOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const [c, a] = tied(cmd, args);
  return exec(c, a, { ...opts, encoding: 'utf8' });
}

/** As runTied, with stdout as bytes, and `input` (if any) written to the child's stdin. */
export function runTiedBuffer(
  cmd: string,
  args: readonly string[],
  opts: ExecFileOptions & { input?: Buffer } = {},
): Promise<{ stdout: Buffer; stderr: Buffer }> {
  const [c, a] = tied(cmd, args);
  const { input, ...rest } = opts;
  const run = exec(c, a, { ...rest, encoding: 'buffer' });
  const stdin = run.child.stdin;
  if (stdin) {
    // A child that exits before reading all of it (a refused file) closes the pipe: its exit status says why, not EPIPE.
    stdin.on('error', () => undefined);
    stdin.end(input);
  }
  return run;
}
