/**
 * Which stored image a file is, answered from the identity ledger: the tier's one record
 * of the images Hearth has. The exact index (`index`, beside the ledger) is a checkpoint
 * of it, sorted and loaded in one read; what the ledger gained since the checkpoint is
 * read from its tail, so a lookup is current without rebuilding the index every time.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { originalPath } from '../image/index.js';
import type { ObjectStore } from '../store/index.js';
import { CorruptIndexError, ExactIndex } from './exact-index.js';
import { fingerprintOf } from './fingerprint.js';
import { RECORD_BYTES, encodeRecord, readLedger, type LedgerRecord } from './ledger.js';

/** Records of the ledger's tail a lookup reads before it writes the index again (or an eighth of the index, if more). */
const MAX_TAIL = 10_000;

/** The index beside its ledger. */
export const indexFile = (ledger: string): string => join(ledger, '..', 'index');

export interface IndexStats {
  images: number;
  ms: number;
}

/** Writes the index of every whole record of the ledger (a reader's view: a torn tail is left to the worker). */
export async function indexLedger(ledger: string): Promise<{ index: ExactIndex; stats: IndexStats }> {
  const t0 = performance.now();
  const { records, bytes } = await readLedger(ledger);
  // A record reads back as the bytes it was written as: the last one as it is on disk.
  const last = records.length === 0 ? Buffer.alloc(RECORD_BYTES) : encodeRecord(records[records.length - 1] as LedgerRecord);
  const index = ExactIndex.build(records, { bytes, last });
  await index.write(indexFile(ledger));
  return { index, stats: { images: records.length, ms: Math.round(performance.now() - t0) } };
}

async function ledgerRecordAt(ledger: string, at: number): Promise<Buffer> {
  const fh = await open(ledger, 'r');
  try {
    const b = Buffer.alloc(RECORD_BYTES);
    const { bytesRead } = await fh.read(b, 0, RECORD_BYTES, at);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The ledger's images, by fingerprint: the index and the records appended after it. */
export class LedgerLookup {
  constructor(
    private readonly index: ExactIndex,
    private readonly since: ReadonlyMap<bigint, readonly string[]>,
    /** Why the index was rebuilt first, when it was. */
    readonly rebuilt?: string,
  ) {}

  get size(): number {
    let n = this.index.size;
    for (const ids of this.since.values()) n += ids.length;
    return n;
  }

  /** The ids whose original has this fingerprint. */
  lookup(fp: bigint): string[] {
    return [...this.index.lookup(fp), ...(this.since.get(fp) ?? [])];
  }
}

/** Why the index cannot stand for the ledger's start, or undefined when it can. */
async function stale(index: ExactIndex, ledger: string): Promise<string | undefined> {
  const { bytes, last } = index.covers;
  if (bytes === 0) return undefined;
  const now = await ledgerRecordAt(ledger, bytes - RECORD_BYTES).catch(() => Buffer.alloc(0));
  return now.equals(last) ? undefined : 'the ledger was rebuilt or shortened since';
}

/** The lookup over `ledger`: its index (rebuilt when missing, damaged or made from another ledger) and the records since. */
export async function loadLookup(ledger: string): Promise<LedgerLookup> {
  let index: ExactIndex | undefined;
  let rebuilt: string | undefined;
  try {
    index = await ExactIndex.read(indexFile(ledger));
    rebuilt = await stale(index, ledger);
  } catch (err) {
    rebuilt = err instanceof CorruptIndexError ? err.message : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no index yet' : (err as Error).message;
  }
  if (rebuilt !== undefined || !index) index = (await indexLedger(ledger)).index;
  let tail = (await readLedger(ledger, { from: index.covers.bytes })).records;
  // Far behind the ledger: written again, so that the next lookup reads little of its tail.
  if (tail.length > Math.max(MAX_TAIL, index.size / 8)) {
    rebuilt = `${tail.length} images accepted since it was written`;
    index = (await indexLedger(ledger)).index;
    tail = (await readLedger(ledger, { from: index.covers.bytes })).records;
  }
  const since = new Map<bigint, string[]>();
  for (const r of tail) {
    const ids = since.get(r.fingerprint);
    if (ids) ids.push(r.id);
    else since.set(r.fingerprint, [r.id]);
  }
  return new LedgerLookup(index, since, rebuilt);
}

export interface Identified {
  file: string;
  /** The stored image whose original has exactly these bytes, or null. */
  id: string | null;
  /** Ids whose fingerprint matched but whose bytes did not (a fingerprint collision, or an original since taken back). */
  collisions: string[];
}

/** Which stored image each file is: fingerprint candidates, each confirmed byte for byte against the store. */
export async function identify(store: ObjectStore, images: { lookup(fp: bigint): string[] }, file: string): Promise<Identified> {
  const data = await readFile(file);
  const collisions: string[] = [];
  for (const id of images.lookup(fingerprintOf(data))) {
    // Only the original's own bytes can confirm; one over the file's size cannot be it.
    const stored = await store.get(originalPath(id), data.length).catch(() => undefined);
    if (stored?.equals(data)) return { file, id, collisions };
    collisions.push(id);
  }
  return { file, id: null, collisions };
}
