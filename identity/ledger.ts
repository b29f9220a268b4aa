/**
 * The identity tier's memory: one fixed-size record per image it accepted, appended and
 * fsynced before the acceptance is announced. Rebuilding it from the store would mean a
 * PDQ hash per original (53 ms each: 15 hours at a million), so it is kept, not derived.
 *
 * Record (64 bytes, little-endian): `HL` · version 1 · PDQ quality (0–100) · id (u64) ·
 * fingerprint (u64) · size in bytes (u64) · PDQ hash (32) · CRC-32 of the first 60.
 *
 * A crash can tear only the last record: a tail that is short or fails its CRC is cut
 * off on load (and counted). A bad record anywhere else means the file was damaged:
 * `CorruptLedgerError`, and the caller rebuilds rather than trusting it.
 */
import { crc32 } from 'node:zlib';
import { mkdir, open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HearthError, isImageId } from '../common/index.js';

/** The identity tier's own files (ledger, its index, lock): state, not store objects. */
export const identityDir = (store: string, stateDir?: string): string => stateDir ?? join(store, '.hearth-identity');
export const ledgerFile = (store: string, stateDir?: string): string => join(identityDir(store, stateDir), 'ledger');

export const RECORD_BYTES = 64;
const MAGIC = 0x4c48; // 'HL'
const VERSION = 1;

export interface LedgerRecord {
  id: string;
  fingerprint: bigint;
  size: number;
  pdq: Buffer;
  quality: number;
}

export class CorruptLedgerError extends HearthError {
  constructor(file: string, why: string) {
    super('HEARTH_ERR_INTEGRITY', `${file}: not a usable identity ledger (${why}); it will be rebuilt from the store`);
  }
}

export function encodeRecord(r: LedgerRecord): Buffer {
  // Kept as a number: only an id that reads back as the same string may go in (no leading zero).
  if (!isImageId(r.id)) throw new RangeError(`id ${JSON.stringify(r.id)} would not read back as itself from the ledger`);
  const b = Buffer.alloc(RECORD_BYTES);
  b.writeUInt16LE(MAGIC, 0);
  b.writeUInt8(VERSION, 2);
  b.writeUInt8(Math.max(0, Math.min(100, Math.round(r.quality))), 3);
  b.writeBigUInt64LE(BigInt(r.id), 4);
  b.writeBigUInt64LE(r.fingerprint, 12);
  b.writeBigUInt64LE(BigInt(r.size), 20);
  if (r.pdq.length !== 32) throw new RangeError(`PDQ hash of ${r.id}: ${r.pdq.length} bytes, not 32`);
  r.pdq.copy(b, 28);
  b.writeUInt32LE(crc32(b.subarray(0, 60)), 60);
  return b;
}

function decodeRecord(b: Buffer): LedgerRecord | undefined {
  if (b.readUInt16LE(0) !== MAGIC || b.readUInt8(2) !== VERSION || b.readUInt32LE(60) !== crc32(b.subarray(0, 60))) return undefined;
  return {
    id: b.readBigUInt64LE(4).toString(),
    fingerprint: b.readBigUInt64LE(12),
    size: Number(b.readBigUInt64LE(20)),
    pdq: Buffer.from(b.subarray(28, 60)),
    quality: b.readUInt8(3),
  };
}

/** The file's bytes from `from` to its end (none when it is shorter). */
async function readFrom(file: string, from: number): Promise<Buffer> {
  if (from === 0) return readFile(file);
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const data = Buffer.alloc(Math.max(0, size - from));
    let done = 0;
    while (done < data.length) {
      const { bytesRead } = await fh.read(data, done, data.length - done, from + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return data.subarray(0, done);
  } finally {
    await fh.close();
  }
}

export interface ReadLedgerOptions {
  /** Where to start: a record boundary (a byte count an earlier read returned as `bytes`). */
  readonly from?: number;
  /** Cut a torn tail off the file: only its writer may (a reader beside a running worker must not). */
  readonly cutTorn?: boolean;
}

/**
 * Every record of a ledger file from `from` (none when it does not exist); a torn tail is
 * reported as `torn` (and cut off with `cutTorn`); `bytes`: where the whole records end.
 */
export async function readLedger(file: string, o: ReadLedgerOptions = {}): Promise<{ records: LedgerRecord[]; torn: number; bytes: number }> {
  const from = o.from ?? 0;
  if (from % RECORD_BYTES !== 0) throw new RangeError(`${file}: ${from} is not a record boundary`);
  let data: Buffer;
  try {
    data = await readFrom(file, from);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], torn: 0, bytes: 0 };
    throw err;
  }
  const whole = Math.floor(data.length / RECORD_BYTES);
  const records: LedgerRecord[] = [];
  for (let i = 0; i < whole; i++) {
    const r = decodeRecord(data.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES));
    if (r) records.push(r);
    else if (i === whole - 1 && data.length === whole * RECORD_BYTES) break;
    else throw new CorruptLedgerError(file, `record ${from / RECORD_BYTES + i} fails its check`);
  }
  const good = records.length * RECORD_BYTES;
  if (good < data.length && o.cutTorn) await truncate(file, from + good);
  return { records, torn: data.length - good, bytes: from + good };
}

/** Appends records durably, one write and one fdatasync each, in the order asked. */
export class LedgerWriter {
  private chain: Promise<void> = Promise.resolve();

  private constructor(private readonly fh: FileHandle) {}

  static async open(file: string): Promise<LedgerWriter> {
    await mkdir(dirname(file), { recursive: true });
    return new LedgerWriter(await open(file, 'a'));
  }

  append(r: LedgerRecord): Promise<void> {
    const data = encodeRecord(r);
    const next = this.chain.then(async () => {
      await this.fh.write(data);
      await this.fh.datasync();
    });
    // A failed append fails its caller (whose message is then retried), not every later one.
    this.chain = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh.close();
  }
}
