/** The one way of writing a file that must survive a crash: atomic, durable, never a half file under a real name, no temp file left behind. */
import { randomBytes } from 'node:crypto';
import { open, rename, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isAlive } from './pid.js';

export interface AtomicWriteOptions {
  /** Where the temp file goes (same filesystem as `file`): one directory to sweep after a crash, not every directory of a tree. Default: beside `file`. */
  tmpDir?: string;
}

/** A new temp path for `file` in `dir`: the target's name, then the writer's pid, so a sweep can tell a dead writer's leftovers from a live one's work. */
export const tempPathFor = (file: string, dir = dirname(file)): string => join(dir, `${basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
const TEMP = /\.tmp-(\d+)-[0-9a-z]+$/;

/**
 * Temp file, write, fsync, rename, fsync the directory: after a crash the name holds the
 * old bytes or the new, never a mix. A write that fails (a full disk) removes its temp
 * file at once: retries of a failing write must not fill what little space is left.
 */
export async function writeAtomic(file: string, data: Buffer, o: AtomicWriteOptions = {}): Promise<void> {
  await placeTemp(await writeTemp(file, data, o), file);
}

/** A complete temp file renamed onto `file`, durably (the directory fsynced); removed if the rename fails. */
export async function placeTemp(tmp: string, file: string): Promise<void> {
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncPath(dirname(file));
}

/**
 * `data` durably in a new temp file for `file` (its directory made), the temp's path
 * returned: for a caller that puts it in place otherwise than by rename (a link that
 * must not replace anything) and then removes it. Removed here if the write fails.
 */
export async function writeTemp(file: string, data: Buffer, o: AtomicWriteOptions = {}): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  if (o.tmpDir) await mkdir(o.tmpDir, { recursive: true });
  const tmp = tempPathFor(file, o.tmpDir);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return tmp;
}

/** A temp file whose writer may still be at work: its pid runs, and it is younger than a day (no write takes that long). */
const TEMP_MAX_AGE_MS = 24 * 3600 * 1000;

/**
 * Removes the temp files a crashed writer left in `dir` (not its subdirectories): those
 * whose writer's pid no longer runs, or older than a day. Temp files of live writers
 * are theirs. Returns how many were removed; a missing `dir` has none.
 */
export async function sweepTempFiles(dir: string, now = Date.now()): Promise<number> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  let removed = 0;
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const age = await stat(path).then(
      (st) => now - st.mtimeMs,
      () => undefined,
    );
    if (age === undefined || (isAlive(Number(m[1])) && Number(m[1]) !== 0 && age < TEMP_MAX_AGE_MS)) continue;
    await rm(path, { force: true });
    removed++;
  }
  return removed;
}

/** fsync a file or a directory (a directory's fsync makes a rename or unlink in it durable). */
export async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
