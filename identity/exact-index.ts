/**
 * The compact persistent index of exact fingerprints: fingerprint → image id(s), as
 * one binary file written atomically, a checkpoint of the identity ledger (it says how
 * much of the ledger it covers, and that much's last record, so a reader can tell the
 * ledger it was made from and read only what was appended since). Fingerprints are a
 * sorted BigUint64Array (binary search), ids a string table; an xxHash64 of everything
 * before it comes last, so a torn or damaged index is recognised and rebuilt, never
 * trusted. (It guards against accidents, not adversaries: xxh64 reads 32 MB in 2 ms
 * where SHA-256 took 40, a fifth of the load time of a million entries.)
 *
 * Layout (little-endian): magic `HRTHFP03` · u32 entries · u32 id-table bytes · u64
 * ledger bytes covered · the covered ledger's last record (64, zeros when none) ·
 * u64 × entries (sorted fingerprints) · u32 × entries (each entry's id, as an offset
 * into the id table) · u32 × entries (its length) · id table (UTF-8) · xxh64 (8).
 * Older versions (01: SHA-256; 02: built from the store, covering no ledger) are refused
 * like any other foreign file, and rebuilt.
 */
import { open } from 'node:fs/promises';
import { xxh64 } from '@node-rs/xxhash';
import { writeAtomic } from '../common/index.js';
import { RECORD_BYTES as LAST_RECORD } from './ledger.js';

const MAGIC = Buffer.from('HRTHFP03');
const HEADER = MAGIC.length + 16 + LAST_RECORD;
const DIGEST = 8;

const checksum = (body: Buffer): Buffer => {
  const out = Buffer.alloc(DIGEST);
  out.writeBigUInt64LE(xxh64(body));
  return out;
};

export class CorruptIndexError extends Error {
  constructor(
    readonly file: string,
    why: string,
  ) {
    super(`${file}: not a usable identity index (${why}); rebuild it with \`hearth identity index\``);
  }
}

export interface IndexEntry {
  fingerprint: bigint;
  id: string;
}

/** How much of the ledger an index was built from: its bytes, and the last of its records. */
export interface LedgerCheckpoint {
  readonly bytes: number;
  readonly last: Buffer;
}

const NO_LEDGER: LedgerCheckpoint = { bytes: 0, last: Buffer.alloc(LAST_RECORD) };

export class ExactIndex {
  private constructor(
    private readonly fingerprints: BigUint64Array,
    private readonly idAt: Uint32Array,
    private readonly idLength: Uint32Array,
    private readonly ids: Buffer,
    /** The ledger prefix this index holds. */
    readonly covers: LedgerCheckpoint,
  ) {}

  static build(entries: readonly IndexEntry[], covers: LedgerCheckpoint = NO_LEDGER): ExactIndex {
    if (covers.last.length !== LAST_RECORD) throw new RangeError(`a ledger record is ${LAST_RECORD} bytes, not ${covers.last.length}`);
    const n = entries.length;
    // Sorted on 32-bit halves, through an order of indices: BigInt comparisons of the
    // entries themselves took 4 s a million.
    const halves = new Uint32Array(new BigUint64Array(entries.map((e) => e.fingerprint)).buffer);
    const order = new Uint32Array(n).map((_, i) => i);
    order.sort(
      (a, b) =>
        (halves[2 * a + 1] as number) - (halves[2 * b + 1] as number) ||
        (halves[2 * a] as number) - (halves[2 * b] as number) ||
        ((entries[a] as IndexEntry).id < (entries[b] as IndexEntry).id ? -1 : 1),
    );
    const idList = new Array<string>(n);
    for (let i = 0; i < n; i++) idList[i] = (entries[order[i] as number] as IndexEntry).id;
    const joined = idList.join('');
    const ids = Buffer.from(joined);
    // Ids are digits (the ledger keeps them as numbers): a character a byte, unless the table says otherwise.
    const ascii = ids.length === joined.length;
    const fingerprints = new BigUint64Array(n);
    const idAt = new Uint32Array(n);
    const idLength = new Uint32Array(n);
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const id = idList[i] as string;
      const length = ascii ? id.length : Buffer.byteLength(id);
      fingerprints[i] = (entries[order[i] as number] as IndexEntry).fingerprint;
      idAt[i] = offset;
      idLength[i] = length;
      offset += length;
    }
    return new ExactIndex(fingerprints, idAt, idLength, ids, covers);
  }

  get size(): number {
    return this.fingerprints.length;
  }

  /** The ids whose fingerprint is `fp` (usually none or one; several only for byte-identical uploads or a collision). */
  lookup(fp: bigint): string[] {
    const f = this.fingerprints;
    let lo = 0;
    let hi = f.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((f[mid] as bigint) < fp) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = lo; i < f.length && f[i] === fp; i++)
      out.push(this.ids.toString('utf8', this.idAt[i], (this.idAt[i] as number) + (this.idLength[i] as number)));
    return out;
  }

  toBuffer(): Buffer {
    const n = this.fingerprints.length;
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header);
    header.writeUInt32LE(n, MAGIC.length);
    header.writeUInt32LE(this.ids.length, MAGIC.length + 4);
    header.writeBigUInt64LE(BigInt(this.covers.bytes), MAGIC.length + 8);
    this.covers.last.copy(header, MAGIC.length + 16);
    const body = Buffer.concat([
      header,
      Buffer.from(this.fingerprints.buffer, this.fingerprints.byteOffset, n * 8),
      Buffer.from(this.idAt.buffer, this.idAt.byteOffset, n * 4),
      Buffer.from(this.idLength.buffer, this.idLength.byteOffset, n * 4),
      this.ids,
    ]);
    return Buffer.concat([body, checksum(body)]);
  }

  /** Written atomically (temp file, fsync, rename): a reader sees the old index or the new one. */
  async write(file: string): Promise<void> {
    await writeAtomic(file, this.toBuffer());
  }

  /** Reads and checks an index; throws CorruptIndexError for anything it cannot trust. */
  static fromBuffer(data: Buffer, file = 'index'): ExactIndex {
    if (data.length < HEADER + DIGEST || !data.subarray(0, MAGIC.length).equals(MAGIC)) throw new CorruptIndexError(file, 'no Hearth index header');
    const body = data.subarray(0, data.length - DIGEST);
    if (!checksum(body).equals(data.subarray(data.length - DIGEST))) throw new CorruptIndexError(file, 'checksum mismatch');
    const n = data.readUInt32LE(MAGIC.length);
    const idBytes = data.readUInt32LE(MAGIC.length + 4);
    if (HEADER + n * 16 + idBytes !== body.length) throw new CorruptIndexError(file, 'sizes do not add up');
    const covers = { bytes: Number(data.readBigUInt64LE(MAGIC.length + 8)), last: Buffer.from(data.subarray(MAGIC.length + 16, HEADER)) };
    if (covers.bytes % LAST_RECORD !== 0) throw new CorruptIndexError(file, 'covers part of a ledger record');
    // Views into the file's own memory when it is 8-byte aligned (a large read is: its own
    // ArrayBuffer), copies otherwise: typed arrays need aligned offsets.
    const aligned = data.byteOffset % 8 === 0;
    const at = (offset: number, bytes: number): [ArrayBuffer, number] =>
      aligned
        ? [data.buffer as ArrayBuffer, data.byteOffset + offset]
        : [data.buffer.slice(data.byteOffset + offset, data.byteOffset + offset + bytes) as ArrayBuffer, 0];
    const fingerprints = new BigUint64Array(...at(HEADER, n * 8), n);
    const idAt = new Uint32Array(...at(HEADER + n * 8, n * 4), n);
    const idLength = new Uint32Array(...at(HEADER + n * 12, n * 4), n);
    const ids = Buffer.from(...at(HEADER + n * 16, idBytes), idBytes);
    // Order checked on 32-bit halves: BigInt comparisons took 80 ms a million.
    const halves = new Uint32Array(fingerprints.buffer, fingerprints.byteOffset, n * 2);
    for (let i = 0; i < n; i++) {
      if (i > 0) {
        const hi = halves[2 * i + 1] as number;
        const prevHi = halves[2 * i - 1] as number;
        if (prevHi > hi || (prevHi === hi && (halves[2 * i - 2] as number) > (halves[2 * i] as number)))
          throw new CorruptIndexError(file, 'fingerprints out of order');
      }
      if ((idAt[i] as number) + (idLength[i] as number) > idBytes) throw new CorruptIndexError(file, 'an id outside the id table');
    }
    return new ExactIndex(fingerprints, idAt, idLength, ids, covers);
  }

  static async read(file: string): Promise<ExactIndex> {
    return ExactIndex.fromBuffer(await readWhole(file), file);
  }
}

/**
 * A file in one buffer of its own (8-byte aligned, so the index can view it in place),
 * read with as few reads as the kernel allows: fs.readFile's 512 KiB chunks made a
 * 32 MB index take 90–130 ms to read.
 */
async function readWhole(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.allocUnsafeSlow(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(buf, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  } finally {
    await fh.close();
  }
}
