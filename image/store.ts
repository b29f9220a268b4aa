/** The store's layout: which paths exist, where they live on disk, and reading them safely. */
import { readFile, realpath } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { HearthError } from '../common/index.js';

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
 * The bytes of a store path, refusing to read through a symbolic link that leads out
 * of the store (a link within it is fine). ENOENT passes through as usual.
 */
export async function readInStore(root: string, path: string): Promise<Buffer> {
  const file = storeFile(root, path);
  const [real, base] = await Promise.all([realpath(file), realpath(root)]);
  if (!real.startsWith(base + sep)) throw new StoreEscapeError(`store path ${JSON.stringify(path)} is a link that leaves the store (to ${real})`);
  return readFile(real);
}
