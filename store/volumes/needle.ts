/**
 * A needle: one object (or one deletion) as it lies in a volume. Haystack's idea, with
 * what Backpack left out: a checksum over every byte, the key inside (a volume alone
 * rebuilds its index), and a size small enough that a 5 KB thumbnail carries under 40
 * bytes of overhead, index record included.
 *
 *     0  u16  magic 0x4E48 ("HN")
 *     2  u8   flags: 1 tombstone, 2 has metadata
 *     3  u8   key length (key-codec.ts)
 *     4  u32  body length: [u16 metadata length, metadata JSON] then the data
 *     8  key, body
 *        u32  checksum of every byte before it (checksum.ts)
 *        zero padding to a multiple of 4 (offsets and lengths are kept in 4-byte units)
 *
 * Little-endian throughout.
 */
import { checkMeta, type ObjectMeta } from '../object-store.js';
import { checksum32 } from './checksum.js';
import { decodeKey, encodeKey } from './key-codec.js';

export const NEEDLE_MAGIC = 0x4e48;
export const NEEDLE_HEADER_BYTES = 8;
export const NEEDLE_ALIGN = 4;
export const FLAG_TOMBSTONE = 1;
const FLAG_META = 2;
/** Enough of a needle to hold its header, the longest key and the metadata's length. */
export const NEEDLE_PEEK_BYTES = NEEDLE_HEADER_BYTES + 255 + 2;

export interface Needle {
  key: string;
  tombstone: boolean;
  meta: ObjectMeta;
  data: Buffer;
  /** Bytes the needle takes in its volume, padding included. */
  length: number;
}

/** Why bytes are not a needle: `short` when they end before it does (a torn tail), otherwise damage. */
export type NeedleFault = 'short' | 'magic' | 'key' | 'meta' | 'checksum';

export class NeedleError extends Error {
  constructor(
    readonly fault: NeedleFault,
    message: string,
  ) {
    super(message);
  }
}

export const padded = (n: number): number => Math.ceil(n / NEEDLE_ALIGN) * NEEDLE_ALIGN;

function encodeMeta(meta: ObjectMeta | undefined): Buffer | undefined {
  if (!meta || Object.keys(meta).length === 0) return undefined;
  checkMeta(meta);
  return Buffer.from(JSON.stringify(meta));
}

/** The needle for `key`, whole and padded, ready to append. */
export function encodeNeedle(key: string, data: Buffer, meta?: ObjectMeta, tombstone = false): Buffer {
  const keyBytes = encodeKey(key);
  const metaBytes = encodeMeta(meta);
  const body = (metaBytes ? 2 + metaBytes.length : 0) + data.length;
  const end = NEEDLE_HEADER_BYTES + keyBytes.length + body;
  const out = Buffer.alloc(padded(end + 4));
  out.writeUInt16LE(NEEDLE_MAGIC, 0);
  out[2] = (tombstone ? FLAG_TOMBSTONE : 0) | (metaBytes ? FLAG_META : 0);
  out[3] = keyBytes.length;
  out.writeUInt32LE(body, 4);
  let at = NEEDLE_HEADER_BYTES + keyBytes.copy(out, NEEDLE_HEADER_BYTES);
  if (metaBytes) {
    out.writeUInt16LE(metaBytes.length, at);
    at += 2 + metaBytes.copy(out, at + 2);
  }
  data.copy(out, at);
  out.writeUInt32LE(checksum32(out, 0, end), end);
  return out;
}

/** The padded length of the needle whose first 8 bytes these are; undefined when they are no needle header. */
export function needleLength(header: Buffer): number | undefined {
  if (header.length < NEEDLE_HEADER_BYTES || header.readUInt16LE(0) !== NEEDLE_MAGIC || header[3] === 0 || (header[2]! & ~(FLAG_TOMBSTONE | FLAG_META)) !== 0)
    return undefined;
  return padded(NEEDLE_HEADER_BYTES + header[3]! + header.readUInt32LE(4) + 4);
}

/** The key a needle's first bytes name, without reading or checking the rest (listing, collision checks). */
export function peekKey(b: Buffer): string | undefined {
  if (needleLength(b) === undefined || b.length < NEEDLE_HEADER_BYTES + b[3]!) return undefined;
  return decodeKey(b.subarray(NEEDLE_HEADER_BYTES, NEEDLE_HEADER_BYTES + b[3]!));
}

/** The object's size from a needle's first bytes: its body less the metadata section. */
export function peekSize(b: Buffer): number {
  const metaBytes = b[2]! & FLAG_META ? 2 + b.readUInt16LE(NEEDLE_HEADER_BYTES + b[3]!) : 0;
  return b.readUInt32LE(4) - metaBytes;
}

/** Metadata from a needle's first bytes (`head`), unchecked; undefined when more bytes are needed. */
export function peekMeta(b: Buffer): ObjectMeta | undefined {
  const keyEnd = NEEDLE_HEADER_BYTES + b[3]!;
  if (!(b[2]! & FLAG_META)) return {};
  if (b.length < keyEnd + 2) return undefined;
  const n = b.readUInt16LE(keyEnd);
  if (b.length < keyEnd + 2 + n) return undefined;
  return parseMeta(b.subarray(keyEnd + 2, keyEnd + 2 + n));
}

function parseMeta(b: Buffer): ObjectMeta {
  let value: unknown;
  try {
    value = JSON.parse(b.toString('utf8'));
  } catch {
    throw new NeedleError('meta', 'metadata is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string'))
    throw new NeedleError('meta', 'metadata is not an object of strings');
  return value as ObjectMeta;
}

/**
 * The needle at the start of `b`, every byte checked. Throws NeedleError: `short` when
 * `b` ends before the needle does, anything else for damage. The data is a view of `b`.
 */
export function decodeNeedle(b: Buffer): Needle {
  if (b.length < NEEDLE_HEADER_BYTES) throw new NeedleError('short', `${b.length} bytes, less than a needle header`);
  const length = needleLength(b);
  if (length === undefined) throw new NeedleError('magic', 'not a needle header');
  if (b.length < length) throw new NeedleError('short', `needle of ${length} bytes, only ${b.length} there`);
  const keyLen = b[3]!;
  const body = b.readUInt32LE(4);
  const end = NEEDLE_HEADER_BYTES + keyLen + body;
  if (b.readUInt32LE(end) !== checksum32(b, 0, end)) throw new NeedleError('checksum', 'checksum does not match');
  const key = decodeKey(b.subarray(NEEDLE_HEADER_BYTES, NEEDLE_HEADER_BYTES + keyLen));
  if (key === undefined) throw new NeedleError('key', 'key bytes name no store path');
  let at = NEEDLE_HEADER_BYTES + keyLen;
  let meta: ObjectMeta = {};
  if (b[2]! & FLAG_META) {
    const n = body >= 2 ? b.readUInt16LE(at) : Infinity;
    if (2 + n > body) throw new NeedleError('meta', 'metadata runs past the body');
    meta = parseMeta(b.subarray(at + 2, at + 2 + n));
    at += 2 + n;
  }
  return { key, tombstone: (b[2]! & FLAG_TOMBSTONE) !== 0, meta, data: b.subarray(at, end), length };
}
