import { readFileSync } from 'node:fs';

/**
 * Whether a process runs. A zombie (exited, not yet reaped) does not: a daemon whose
 * starter has exited is reaped by init, which in a container may take seconds, and
 * `kill(pid, 0)` succeeds on it until then (`stack down` waited for exactly that).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc (not Linux): what kill said.
    return true;
  }
}

/** The pid a pid file names, if that process still runs. */
export function livePid(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
