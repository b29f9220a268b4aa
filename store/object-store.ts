/**
 * The one interface every tier reaches the store through: S3's semantics over Hearth's
 * store paths as keys (`/photos/123/12345_z.jpg`, `/originals/123/12345.jpg`, …). No
 * hard links, renames or directory listings leak out of a driver: a driver for an S3
 * object store must be able to implement every member as it stands.
 */
import { Type } from '@sinclair/typebox';
import { HearthError } from '../common/index.js';
import type { DamageFinding } from './damage-report.js';

/**
 * Small string pairs that travel with an object, written with it in one atomic put and
 * copied with it (S3's user metadata, with its 2 KB bound): the perceptual marker of a
 * resize, the digest of a JPEG XL original.
 */
export type ObjectMeta = Readonly<Record<string, string>>;

/** What `head` knows of an object without reading it whole. */
export interface ObjectInfo {
  /** Bytes. */
  size: number;
  /** When it was last written, ms since the epoch, where the driver keeps it (`dir` does, `volumes` does not). */
  modifiedMs?: number;
  meta: ObjectMeta;
}

export interface ListedObject extends ObjectInfo {
  key: string;
}

export interface ObjectStore {
  /** `dir`: a file per object under one directory (today's layout, which nginx can serve from disk). */
  readonly driver: string;
  /** Whole object; `ObjectNotFoundError` when there is none, `UnreadableObjectError` for what must never be read (over `maxBytes`, not a plain object). */
  get(key: string, maxBytes?: number): Promise<Buffer>;
  /** Size and age, or undefined when there is no such object. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Create or replace, bytes and metadata together, atomically (a reader sees the old object or the new) and durably when it returns. */
  put(key: string, data: Buffer, meta?: ObjectMeta): Promise<void>;
  /** Create only: true when created (atomic and durable when it returns), false when the key exists (nothing written). */
  putIfAbsent(key: string, data: Buffer, meta?: ObjectMeta): Promise<boolean>;
  /** `to` made (or replaced) with `from`'s bytes, durably: a driver may share the bytes rather than copy them (a hard link, a server-side copy). */
  copy(from: string, to: string): Promise<void>;
  /** Removes the object durably; false when there was none. */
  delete(key: string): Promise<boolean>;
  /** Every object whose key starts with `prefix` (a folder-like prefix: `/originals/`), sorted folder by folder. */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** Removes what writers that crashed left behind (temp files); how many. Every daemon that writes runs it at start. */
  sweep(): Promise<number>;
  /** Adds a finding to the store's repair list (store/damage-report.ts): an object some tier found damaged. */
  reportDamage(finding: DamageFinding): Promise<void>;
  /** Whether the store takes work now: true, or why not (`/readyz` of every tier names it). */
  ready(): Promise<true | string>;
  /** Lets go of files, connections and locks. */
  close(): Promise<void>;
}

/** A key that does not name an object of the store (it would leave it, or is not a store path). */
export class StoreEscapeError extends HearthError {
  constructor(message: string) {
    super('HEARTH_ERR_STORE_ESCAPE', message);
  }
}

/** No object under this key. */
export class ObjectNotFoundError extends HearthError {
  constructor(key: string) {
    super('HEARTH_ERR_NOT_FOUND', `store path ${JSON.stringify(key)}: no such object`);
  }
}

/** An object that is there but must never be read: not a plain object (a FIFO, a device, a directory), or over the cap. */
export class UnreadableObjectError extends HearthError {}

/** Stored bytes that fail their checksum: never served, logged for repair. */
export class DamagedObjectError extends HearthError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super('HEARTH_ERR_INTEGRITY', message);
  }
}

/** The store refuses writes: its disk is down to the reserve. Reads go on. */
export class StoreFullError extends HearthError {
  constructor(message: string) {
    super('HEARTH_ERR_STORE_FULL', message);
  }
}

/** S3's bound on an object's user metadata, as its JSON. */
export const MAX_META_BYTES = 2048;

/** Metadata every driver can keep: names of lowercase letters, digits and dashes (S3 lowercases names), at most 2 KB in all. */
export function checkMeta(meta: ObjectMeta | undefined): void {
  if (!meta) return;
  const bad = Object.entries(meta).find(([k, v]) => !/^[a-z0-9][a-z0-9-]{0,63}$/.test(k) || typeof v !== 'string');
  if (bad)
    throw new HearthError('HEARTH_ERR_INVALID', `object metadata ${JSON.stringify(bad[0])}: names are lowercase letters, digits and dashes, values strings`);
  const bytes = Buffer.byteLength(JSON.stringify(meta));
  if (bytes > MAX_META_BYTES) throw new HearthError('HEARTH_ERR_INVALID', `object metadata of ${bytes} bytes is over the ${MAX_META_BYTES} any driver keeps`);
}

/**
 * A store key as every driver accepts it: absolute, `/`-separated, no empty, `.` or `..`
 * segment, no NUL, at most 254 bytes. What is no key can name no object anywhere.
 */
export function checkKey(key: string): void {
  if (
    !key.startsWith('/') ||
    key.includes('\0') ||
    key
      .split('/')
      .slice(1)
      .some((s) => s === '' || s === '.' || s === '..') ||
    Buffer.byteLength(key) > 254
  ) {
    throw new StoreEscapeError(`store path ${JSON.stringify(key)} is not a path inside the store`);
  }
}

/**
 * The most bytes any tier reads from the store into memory at once, unless its config
 * says otherwise: 256 MiB, five times the largest JPEG a 100-megapixel upload makes at
 * quality 100, and a small share of a worker's memory even at several jobs at once.
 */
export const DEFAULT_MAX_READ_BYTES = 256 * 1024 * 1024;

/** The cap on one read, as a config member (every tier that reads what a message names has one). */
export const maxReadBytesOption = (refused = 'a message naming a larger one is dead-lettered (`oversized_*`), never read') =>
  Type.Integer({
    minimum: 1024 * 1024,
    maximum: 2 ** 31 - 1,
    default: DEFAULT_MAX_READ_BYTES,
    description: `the largest store object read into memory; ${refused}`,
  });
