/**
 * Private temp directories for the tools that only take files (cjxl, djxl, heif-convert):
 * one per run, named for the process that made it, so a later process can remove what a
 * kill -9 left behind without touching a live process's files.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `fn` in a new temp directory named `<prefix><pid>-…`, removed after it, whatever happens. */
export async function inToolTemp<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}${process.pid}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes the `prefix` temp directories of processes that no longer run; how many. */
export async function sweepToolTemps(prefix: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const pid = Number(new RegExp(`^${prefix}(\\d+)-`).exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    await rm(join(tmpdir(), name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
