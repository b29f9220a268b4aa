/**
 * The one interface every tier reaches the store through: S3's semantics over Hearth's
 * store paths as keys (`/photos/123/12345_z.jpg`, `/originals/123/12345.jpg`, …). No
 * hard links, renames or directory listings leak out of a driver: a driver for an S3
 * object store must be able to implement every member as it stands.
 */
import { Type } from '@sinclair/typebox';
import { HearthError } from '../common/index.js';

/** What `head` knows of an object without reading it. */
export interface ObjectInfo {
  /** Bytes. */
  size: number;
  /** When it was last written, ms since the epoch. */
  modifiedMs: number;
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
  /** Create or replace, atomically (a reader sees the old bytes or the new) and durably when it returns. */
  put(key: string, data: Buffer): Promise<void>;
  /** Create only: true when created (atomic and durable when it returns), false when the key exists (nothing written). */
  putIfAbsent(key: string, data: Buffer): Promise<boolean>;
  /** `to` made (or replaced) with `from`'s bytes, durably: a driver may share the bytes rather than copy them (a hard link, a server-side copy). */
  copy(from: string, to: string): Promise<void>;
  /** Removes the object durably; false when there was none. */
  delete(key: string): Promise<boolean>;
  /** Every object whose key starts with `prefix` (a folder-like prefix: `/originals/`), sorted folder by folder. */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** Removes what writers that crashed left behind (temp files); how many. Every daemon that writes runs it at start. */
  sweep(): Promise<number>;
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

/**
 * The most bytes any tier reads from the store into memory at once, unless its config
 * says otherwise: 256 MiB, five times the largest JPEG a 100-megapixel upload makes at
 * quality 100, and a small share of a worker's memory even at several jobs at once.
 */
export const DEFAULT_MAX_READ_BYTES = 256 * 1024 * 1024;

/** The cap on one read, as a config member (every tier that reads what a message names has one). */
export const maxReadBytesOption = () =>
  Type.Integer({ minimum: 1024 * 1024, maximum: 2 ** 31 - 1, default: DEFAULT_MAX_READ_BYTES, description: 'the largest store object read into memory; a message naming a larger one is dead-lettered (`oversized_*`), never read' });
