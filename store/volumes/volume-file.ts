/**
 * The two files of a volume: `<order>.vol`, needles appended one after another, and
 * `<order>.idx`, one 16-byte record per needle in the same order (Haystack's index file).
 * Both start with the same 16-byte header, so an index left over from before a
 * compaction is never read against the compacted volume:
 *
 *     0  u32  magic ("HRTV" volume, "HRTI" index)
 *     4  u16  format version (volume 1, index 2)
 *     6  u16  reserved
 *     8  u32  order: where the volume stands in write order (replay goes by it)
 *    12  u32  generation: bumped by each compaction
 *
 * The index then holds a 16-byte summary, rewritten with every group commit (in the
 * same fsync as its records), and the records from byte 32:
 *
 *    16  u32  records the checksum covers
 *    20  u32  reserved
 *    24  u64  xxHash64 of those records' bytes
 *
 * An index record:
 *
 *     0  u32  key hash, low word     4  u32  key hash, high word (checksum.ts)
 *     8  u32  needle offset, 4-byte units (volumes up to 16 GiB)
 *    12  u32  needle length in 4-byte units (low 30 bits), kind (high 2 bits: 0 put, 1 delete)
 *
 * A record alone carries no checksum: the summary's covers them all (one native pass at
 * start, 160 MB for 10 M needles in about 20 ms), records must tile the volume exactly
 * (each starts where the last ended) and end inside it, and the records the summary
 * does not cover yet (a crash between the two writes of a commit) and the newest ones
 * are checked against their needles. Anything else rebuilds the index from the volume:
 * a flipped key hash in an old record, which tiling alone cannot see, would otherwise
 * bring a deleted object back or hide a stored one. Index files of format 1 (no
 * summary) are rebuilt once.
 */
import { NEEDLE_ALIGN } from './needle.js';

export const FILE_HEADER_BYTES = 16;
export const RECORD_BYTES = 16;
/** Where an index file's records start: after its header and its summary. */
export const INDEX_RECORDS_AT = 32;
export const VOLUME_MAGIC = 0x56545248; // "HRTV"
export const INDEX_MAGIC = 0x49545248; // "HRTI"
const VERSIONS: Record<number, number> = { [VOLUME_MAGIC]: 1, [INDEX_MAGIC]: 2 };
export const KIND_PUT = 0;
export const KIND_DELETE = 1;
const LEN_MASK = 0x3fffffff;
/** The largest volume an offset in 4-byte units can address. */
export const MAX_VOLUME_BYTES = 2 ** 32 * NEEDLE_ALIGN;

export interface FileHeader {
  order: number;
  generation: number;
}

export function encodeHeader(magic: number, h: FileHeader): Buffer {
  const b = Buffer.alloc(FILE_HEADER_BYTES);
  b.writeUInt32LE(magic, 0);
  b.writeUInt16LE(VERSIONS[magic]!, 4);
  b.writeUInt32LE(h.order, 8);
  b.writeUInt32LE(h.generation, 12);
  return b;
}

/** The header, or undefined when these bytes are not one of `magic`'s. */
export function decodeHeader(magic: number, b: Buffer): FileHeader | undefined {
  if (b.length < FILE_HEADER_BYTES || b.readUInt32LE(0) !== magic || b.readUInt16LE(4) !== VERSIONS[magic]) return undefined;
  return { order: b.readUInt32LE(8), generation: b.readUInt32LE(12) };
}

export interface IndexSummary {
  /** Records the checksum covers. */
  count: number;
  sum: bigint;
}

export function encodeSummary(s: IndexSummary): Buffer {
  const b = Buffer.alloc(INDEX_RECORDS_AT - FILE_HEADER_BYTES);
  b.writeUInt32LE(s.count, 0);
  b.writeBigUInt64LE(s.sum, 8);
  return b;
}

/** The summary of an index file's bytes, or undefined when the file is too short to hold one. */
export function decodeSummary(file: Buffer): IndexSummary | undefined {
  if (file.length < INDEX_RECORDS_AT) return undefined;
  return { count: file.readUInt32LE(FILE_HEADER_BYTES), sum: file.readBigUInt64LE(FILE_HEADER_BYTES + 8) };
}

export interface IndexRecord {
  hashLo: number;
  hashHi: number;
  /** 4-byte units. */
  off: number;
  /** 4-byte units. */
  len: number;
  kind: number;
}

export function writeRecord(b: Buffer, at: number, r: IndexRecord): void {
  b.writeUInt32LE(r.hashLo, at);
  b.writeUInt32LE(r.hashHi, at + 4);
  b.writeUInt32LE(r.off, at + 8);
  b.writeUInt32LE(((r.kind << 30) | r.len) >>> 0, at + 12);
}

export function readRecord(b: Buffer, at: number): IndexRecord {
  const word = b.readUInt32LE(at + 12);
  return { hashLo: b.readUInt32LE(at), hashHi: b.readUInt32LE(at + 4), off: b.readUInt32LE(at + 8), len: word & LEN_MASK, kind: word >>> 30 };
}

/** A name for a volume's files: its order, zero-padded so names sort in write order. */
export const volumeName = (order: number): string => String(order).padStart(8, '0');

/**
 * Index records as they lie in the file, four words each: what a start reads and checks,
 * without an object per record (10 M of them load in well under a second).
 */
export interface RecordTable {
  words: Uint32Array;
  count: number;
}

export const recordAt = (t: RecordTable, i: number): IndexRecord => ({
  hashLo: t.words[4 * i]!,
  hashHi: t.words[4 * i + 1]!,
  off: t.words[4 * i + 2]!,
  len: t.words[4 * i + 3]! & LEN_MASK,
  kind: t.words[4 * i + 3]! >>> 30,
});

export function tableOf(records: IndexRecord[]): RecordTable {
  const b = Buffer.alloc(records.length * RECORD_BYTES);
  records.forEach((r, i) => writeRecord(b, i * RECORD_BYTES, r));
  return { words: new Uint32Array(b.buffer, b.byteOffset, records.length * 4), count: records.length };
}

/** The records' bytes, as the file holds them. */
export const tableBytes = (t: RecordTable): Buffer => Buffer.from(t.words.buffer, t.words.byteOffset, t.count * RECORD_BYTES);

export function concatTables(a: RecordTable, b: RecordTable): RecordTable {
  const words = new Uint32Array((a.count + b.count) * 4);
  words.set(a.words.subarray(0, a.count * 4));
  words.set(b.words.subarray(0, b.count * 4), a.count * 4);
  return { words, count: a.count + b.count };
}
