/**
 * `hearth upload`: an original into the store and an event onto hearth.images.uploaded,
 * as a site's upload handler would do it. The file is checked to be a whole JPEG by its
 * content (a complete decode, not its name), written atomically under a name that no
 * other upload can take (a hard link, which fails if the name exists), and only then
 * announced. An id given again with the same bytes is announced again (retries are
 * safe); with other bytes it is refused: an original is never replaced.
 */
import { randomInt } from 'node:crypto';
import sharp from 'sharp';
import { HearthError, isImageId } from '../common/index.js';
import { DEFAULT_LADDER, LOCATION_META, createSecrets, originalPath, readSecrets, readVerdict, secretImagePath, secretOriginalPath } from '../image/index.js';
import { openStore, type ObjectStore } from '../store/index.js';
import { TOPICS, type Uploaded } from '../kafka/index.js';

export class UploadError extends HearthError {
  constructor(message: string) {
    super('HEARTH_ERR_INVALID', message);
  }
}

export interface Stored {
  id: string;
  source: string;
  bytes: number;
  width: number;
  height: number;
  /** false when the same bytes were already stored under this id (a retried upload). */
  created: boolean;
  /** Where it is served: every size and the original, each path carrying the photo's secret (the original its own). */
  paths: Record<string, string>;
}

/** The photo's secrets, drawn now unless it has them (a retried upload keeps its paths), and its served paths. */
async function withSecrets(store: ObjectStore, id: string): Promise<Record<string, string>> {
  await createSecrets(store, id);
  const s = await readSecrets(store, id);
  if (!s) throw new UploadError(`${id}: its secrets could not be stored`);
  return { ...Object.fromEntries(DEFAULT_LADDER.map((x) => [x.name, secretImagePath(id, s.size, x.name)])), original: secretOriginalPath(id, s.original) };
}

/** A whole, decodable JPEG: its dimensions; or an UploadError saying what it is instead. */
export async function checkJpeg(data: Buffer, name: string): Promise<{ width: number; height: number }> {
  let meta;
  try {
    meta = await sharp(data, { failOn: 'error', limitInputPixels: 100_000_000 }).metadata();
  } catch (err) {
    throw new UploadError(`${name}: not an image (${(err as Error).message})`);
  }
  if (meta.format !== 'jpeg') throw new UploadError(`${name}: not a JPEG (its content is ${meta.format ?? 'unknown'})`);
  try {
    // Every scan decoded: a truncated or damaged file fails here, not in the resize tier.
    await sharp(data, { failOn: 'error', limitInputPixels: 100_000_000 }).raw().toBuffer();
  } catch (err) {
    throw new UploadError(`${name}: a damaged JPEG (${(err as Error).message})`);
  }
  return { width: meta.width ?? 0, height: meta.height ?? 0 };
}

/** A new id: milliseconds since the epoch and three random digits (16 digits). Collisions are caught at store time. */
export function newId(now = Date.now()): string {
  return `${now}${String(randomInt(1000)).padStart(3, '0')}`;
}

/**
 * Stores `data`, which checkJpeg passed (`size` is what it said), as the original of `id`
 * (a new one when absent); never replaces a different original, never reuses a deleted
 * photo's id. `keepLocation`: the original is served with its location metadata (by
 * default it is served without; the stored bytes are the upload's either way).
 */
export async function storeOriginal(root: string, data: Buffer, size: { width: number; height: number }, name: string, id?: string, o: { keepLocation?: boolean } = {}): Promise<Stored> {
  const { width, height } = size;
  if (id !== undefined && !isImageId(id)) throw new UploadError(`${name}: id ${JSON.stringify(id)} is not an image id (decimal digits, no leading zero, at most 19)`);
  const store = openStore(root);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const want = id ?? newId();
      const source = originalPath(want);
      if ((await readVerdict(store, want))?.verdict === 'deleted') {
        if (id !== undefined) throw new UploadError(`${name}: id ${id} was deleted; a deleted photo's id is never used again`);
        continue;
      }
      if (await store.putIfAbsent(source, data, o.keepLocation ? { [LOCATION_META]: 'keep' } : undefined)) return { id: want, source, bytes: data.length, width, height, created: true, paths: await withSecrets(store, want) };
      const existing = await store.get(source);
      if (existing.equals(data)) return { id: want, source, bytes: data.length, width, height, created: false, paths: await withSecrets(store, want) };
      if (id !== undefined) throw new UploadError(`${name}: id ${id} already holds another original (${existing.length} bytes); originals are never replaced`);
    }
    throw new UploadError(`${name}: no free id after 5 tries`);
  } finally {
    await store.close();
  }
}

/** The event that announces a stored original. */
export function uploadedEvent(s: Stored, now = Date.now()): { topic: typeof TOPICS.uploaded; key: string; value: Uploaded } {
  return { topic: TOPICS.uploaded, key: s.id, value: { id: s.id, source: s.source, ts: now } };
}
