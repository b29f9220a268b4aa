/** The store's layout and its one way of writing: atomic, durable, never a half file under a real name. */
import { open, rename, mkdir } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

/** `/photos/<dir>/<id>_<size>.jpg`, with `<dir>` the id without its last two digits (Flickr-like fan-out). */
export function imagePath(id: string | number, size: string): string {
  const s = String(id);
  return `/photos/${s.length > 2 ? s.slice(0, -2) : '0'}/${s}_${size}.jpg`;
}

/** An absolute file for a store path; refuses anything that would leave the root. */
export function storeFile(root: string, path: string): string {
  const base = resolve(root);
  const file = resolve(join(base, path));
  if (!file.startsWith(base + sep)) throw new RangeError(`store path ${JSON.stringify(path)} leaves the store`);
  return file;
}

/** Temp file, write, fsync, rename, fsync the directory: after a crash the name holds the old bytes or the new, never a mix. */
export async function writeAtomic(file: string, data: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncPath(dirname(file));
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
