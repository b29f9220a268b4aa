/**
 * One batch at a time per store: a lock file holding the runner's pid, created with
 * O_EXCL. A lock whose pid no longer runs (a run killed with -9) is taken over; a live
 * one is an error naming the holder. (A recycled pid can make a stale lock look live;
 * the message says which file to remove then.)
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { isAlive } from './pid.js';
import { HearthError } from './errors.js';

const EMPTY_LOCK_GRACE_MS = 5000;

export class LockedError extends HearthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HEARTH_ERR_LOCKED', message, options);
  }
}

export async function acquireRunLock(file: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const text = await readFile(file, 'utf8').catch(() => '');
      const age = await stat(file).then(
        (st) => Date.now() - st.mtimeMs,
        () => Infinity,
      );
      // Empty and fresh: another run has just created it and not yet written its pid.
      // Empty and old: a run killed in that instant; stale like any other.
      if (text.trim() === '' && age < EMPTY_LOCK_GRACE_MS) throw new LockedError(`${what} is starting in another process (lock ${file})`);
      const holder = Number(text.trim());
      if (holder > 0 && isAlive(holder))
        throw new LockedError(`${what} is already running (pid ${holder}, lock ${file}); if that pid is not a hearth run, remove the lock`);
      await rm(file, { force: true });
    }
  }
  throw new LockedError(`could not take ${file}: another run keeps taking it`);
}
