/** The store's layout: which paths exist, where they live on disk, and reading them safely. */
import { constants, type Stats } from 'node:fs';
import { link, mkdir, open, realpath, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Type } from '@sinclair/typebox';
import { HearthError, placeTemp, sweepTempFiles, syncPath, tempPathFor, writeAtomic, writeTemp } from '../common/index.js';

/**
 * The only paths Hearth serves, anywhere (origin service, origin front, caches, proxy):
 * a ladder size, `/photos/<dir>/<id>_<size>.jpg`, and an original,
 * `/originals/[<dir>/]<id>.jpg`. Everything else in the store (.jxl files, digests,
 * ledgers, locks, sidecars, temp files, the manifest) is the store's own business.
 * PCRE and JavaScript read these the same way; nginx configs are rendered from them.
 */
export const SIZE_PATH = '^/photos/([0-9]+)/([0-9]{1,19})_([a-z]{1,3})\\.jpg$';
export const ORIGINAL_PATH = '^/originals/(?:[0-9]+/)?([0-9]{1,19})\\.jpg$';
/** Either of them. */
export const IMAGE_PATH = `^(?:${SIZE_PATH.slice(1, -1)}|${ORIGINAL_PATH.slice(1, -1)})$`;

/** `/photos/<dir>/<id>_<size>.jpg`, with `<dir>` the id without its last two digits (Flickr-like fan-out). */
export function imagePath(id: string | number, size: string): string {
  return `/photos/${fanOut(id)}/${String(id)}_${size}.jpg`;
}

/** The directory an id's files live in: the id without its last two digits (Flickr-like fan-out). */
const fanOut = (id: string | number): string => (String(id).length > 2 ? String(id).slice(0, -2) : '0');

/** `/originals/<dir>/<id>.jpg`, the same fan-out as the sizes. */
export function originalPath(id: string | number): string {
  return `/originals/${fanOut(id)}/${String(id)}.jpg`;
}

/** An absolute file for a store path; refuses anything that would leave the root. */
export function storeFile(root: string, path: string): string {
  const base = resolve(root);
  const file = resolve(join(base, path));
  if (!file.startsWith(base + sep)) throw new StoreEscapeError(`store path ${JSON.stringify(path)} leaves the store`);
  return file;
}

/** A store path, or a link inside the store, that leads out of it. */
export class StoreEscapeError extends HearthError {
  constructor(message: string) {
    super('HEARTH_ERR_STORE_ESCAPE', message);
  }
}

/**
 * The most bytes any tier reads from the store into memory at once, unless its config
 * says otherwise: 256 MiB, five times the largest JPEG a 100-megapixel upload makes at
 * quality 100, and a small share of a worker's memory even at several jobs at once.
 */
export const DEFAULT_MAX_READ_BYTES = 256 * 1024 * 1024;

/** The cap on one read, as a config member (every tier that reads what a message names has one). */
export const maxReadBytesOption = () =>
  Type.Integer({ minimum: 1024 * 1024, maximum: 2 ** 31 - 1, default: DEFAULT_MAX_READ_BYTES, description: 'the largest store file read into memory; a message naming a larger one is dead-lettered (`oversized_*`), never read' });

/**
 * Why a message's id and the store path it names disagree (undefined when they agree):
 * a path is only ever the one its id implies, so no message can serve one image's bytes
 * under another image's id.
 */
export function pathMismatch(id: string, path: string, expected: string): string | undefined {
  return path === expected ? undefined : `${JSON.stringify(path)} is not the path of id ${id} (${expected})`;
}

/** A store path that is there but must never be read: not a regular file, or over the cap. */
export class UnreadableFileError extends HearthError {}

const kindOf = (st: Stats): string =>
  st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : 'not a regular file';

/**
 * The bytes of a store path: the one read path every tier uses for what a message or a
 * request names. It refuses to read through a symbolic link that leads out of the store
 * (a link within it is fine), opens without blocking (a FIFO would otherwise hold a
 * thread of libuv's pool until a writer came, and with it every other read of the
 * process), and reads only a regular file of at most `maxBytes`: anything else is an
 * `UnreadableFileError` (HEARTH_ERR_NOT_A_FILE, HEARTH_ERR_TOO_LARGE) before a byte is
 * read. ENOENT passes through as usual.
 */
export async function readInStore(root: string, path: string, maxBytes = DEFAULT_MAX_READ_BYTES): Promise<Buffer> {
  const file = storeFile(root, path);
  const [real, base] = await Promise.all([realpath(file), realpath(root)]);
  if (!real.startsWith(base + sep)) throw new StoreEscapeError(`store path ${JSON.stringify(path)} is a link that leaves the store (to ${real})`);
  const fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UnreadableFileError('HEARTH_ERR_NOT_A_FILE', `store path ${JSON.stringify(path)} is ${kindOf(st)}, not a regular file`);
    if (st.size > maxBytes) throw new UnreadableFileError('HEARTH_ERR_TOO_LARGE', `store path ${JSON.stringify(path)} is ${st.size} bytes, over the cap of ${maxBytes}`);
    // Exactly the size fstat saw: a file that grows while it is read cannot push past the cap.
    const data = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < st.size) {
      const { bytesRead } = await fh.read(data, got, st.size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === st.size ? data : data.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/**
 * Where every write into the store keeps its temp file until it is put in place: one
 * directory (never served, on the store's filesystem) that a daemon sweeps at start,
 * instead of temp files beside every image of a tree too large to walk.
 */
export const storeTempDir = (root: string): string => join(resolve(root), '.hearth-tmp');

/** Removes what crashed writers left in the store's temp directory; how many. */
export const sweepStoreTemp = (root: string): Promise<number> => sweepTempFiles(storeTempDir(root));

/** `data` at a store path, atomically and durably (replacing what was there). */
export async function writeInStore(root: string, path: string, data: Buffer): Promise<void> {
  await writeAtomic(storeFile(root, path), data, { tmpDir: storeTempDir(root) });
}

/**
 * `data` at a store path only if nothing is there (a hard link, which fails if the name
 * exists): true when created, durable when it returns; false when the path was taken.
 */
export async function createInStore(root: string, path: string, data: Buffer): Promise<boolean> {
  const file = storeFile(root, path);
  const tmp = await writeTemp(file, data, { tmpDir: storeTempDir(root) });
  try {
    await link(tmp, file);
    await syncPath(dirname(file));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Store path `path` replaced, atomically and durably, by a hard link to `target`'s file: the same bytes, stored once. */
export async function linkInStore(root: string, target: string, path: string): Promise<void> {
  const file = storeFile(root, path);
  await mkdir(storeTempDir(root), { recursive: true });
  const tmp = tempPathFor(file, storeTempDir(root));
  await link(storeFile(root, target), tmp);
  await placeTemp(tmp, file);
}
