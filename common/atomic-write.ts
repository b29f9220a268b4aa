/** The one way of writing a file that must survive a crash: atomic, durable, never a half file under a real name. */
import { open, rename, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

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
