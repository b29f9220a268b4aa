/**
 * `hearth upload`: an original into the store and an event onto hearth.images.uploaded,
 * as a site's upload handler would do it. The file is checked to be a whole JPEG or HEIF
 * (a phone's HEIC) by its content (a complete decode, not its name), stored byte for byte, written atomically under a name that no
 * other upload can take (a hard link, which fails if the name exists), and only then
 * announced. An id given again with the same bytes is announced again (retries are
 * safe); with other bytes it is refused: an original is never replaced.
 */
import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { HearthError, isImageId, type Logger } from '../common/index.js';
import {
  DEFAULT_LADDER,
  LOCATION_META,
  UnusableImage,
  decodeOriginal,
  type OriginalFormat,
  createSecrets,
  originalPath,
  readSecrets,
  readVerdict,
  secretImagePath,
  secretOriginalPath,
} from '../image/index.js';
import { openStore, type ObjectStore } from '../store/index.js';
import { TOPICS, connectProducer, type Uploaded } from '../kafka/index.js';
import type { UploadConfig } from './config.js';

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
  /** What the original is, by its content. */
  format: OriginalFormat;
  /** It carries an HDR gain map, which no size keeps (counted by the identity tier too). */
  gainMap: boolean;
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

/** What checkOriginal says of a file it takes: its dimensions as decoded, its format, whether it has a gain map. */
export interface CheckedOriginal {
  width: number;
  height: number;
  format: OriginalFormat;
  gainMap: boolean;
}

/** A whole, decodable JPEG or HEIF: what it is; or an UploadError saying what it is instead. */
export async function checkOriginal(data: Buffer, name: string): Promise<CheckedOriginal> {
  try {
    const { meta, format, gainMap } = await decodeOriginal(data, { whole: true });
    return { width: meta.width ?? 0, height: meta.height ?? 0, format, gainMap };
  } catch (err) {
    if (err instanceof UnusableImage) throw new UploadError(`${name}: ${err.message}`);
    throw err;
  }
}

/** A new id: milliseconds since the epoch and three random digits (16 digits). Collisions are caught at store time. */
export function newId(now = Date.now()): string {
  return `${now}${String(randomInt(1000)).padStart(3, '0')}`;
}

/**
 * Stores `data`, which checkOriginal passed (`checked` is what it said), as the original of `id`
 * (a new one when absent); never replaces a different original, never reuses a deleted
 * photo's id. `keepLocation`: the original is served with its location metadata (by
 * default it is served without; the stored bytes are the upload's either way).
 */
export async function storeOriginal(
  root: string,
  data: Buffer,
  checked: CheckedOriginal,
  name: string,
  id?: string,
  o: { keepLocation?: boolean } = {},
): Promise<Stored> {
  const { width, height, format, gainMap } = checked;
  if (id !== undefined && !isImageId(id))
    throw new UploadError(`${name}: id ${JSON.stringify(id)} is not an image id (decimal digits, no leading zero, at most 19)`);
  const store = openStore(root);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const want = id ?? newId();
      const source = originalPath(want);
      if ((await readVerdict(store, want))?.verdict === 'deleted') {
        if (id !== undefined) throw new UploadError(`${name}: id ${id} was deleted; a deleted photo's id is never used again`);
        continue;
      }
      if (await store.putIfAbsent(source, data, o.keepLocation ? { [LOCATION_META]: 'keep' } : undefined))
        return { id: want, source, bytes: data.length, width, height, format, gainMap, created: true, paths: await withSecrets(store, want) };
      const existing = await store.get(source);
      if (existing.equals(data))
        return { id: want, source, bytes: data.length, width, height, format, gainMap, created: false, paths: await withSecrets(store, want) };
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

/** One file as `uploadFiles` left it: stored, and where its announcement went (what `hearth upload` prints, a JSON line each). */
export interface Announced extends Stored {
  file: string;
  topic: string;
  partition?: number;
  offset?: string;
}

/**
 * The whole upload of a list of files: every file is checked before any is stored, and
 * all are stored before any is announced, so a bad file anywhere in the list leaves
 * nothing behind. `id` names the one file's image; `onAnnounced` hears each as Kafka
 * acknowledges it.
 */
export async function uploadFiles(
  c: UploadConfig,
  files: readonly string[],
  o: { id?: string; keepLocation?: boolean; log: Logger; onAnnounced?: (u: Announced) => void },
): Promise<Announced[]> {
  if (o.id !== undefined && files.length !== 1) throw new UploadError('--id names one image: give one file with it');
  const checked = [];
  for (const file of files) {
    const data = await readFile(file);
    checked.push({ file, data, checked: await checkOriginal(data, basename(file)) });
  }
  const stored = [];
  for (const one of checked)
    stored.push({
      file: one.file,
      ...(await storeOriginal(c.store, one.data, one.checked, basename(one.file), o.id, { keepLocation: o.keepLocation === true })),
    });
  const producer = await connectProducer(c.kafka.brokers, 'hearth-upload', o.log, { [TOPICS.uploaded]: c.kafka.partitions });
  const out: Announced[] = [];
  try {
    for (const s of stored) {
      const e = uploadedEvent(s);
      const [meta] = await producer.send({ topic: e.topic, messages: [{ key: e.key, value: JSON.stringify(e.value) }] });
      const u = { ...s, topic: e.topic, partition: meta?.partition, offset: meta?.baseOffset };
      out.push(u);
      o.onAnnounced?.(u);
    }
  } finally {
    await producer.disconnect();
  }
  return out;
}
