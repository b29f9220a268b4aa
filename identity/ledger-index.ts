/**
 * The exact index of a store's originals (`.hearth-identity.idx`, in the tier's state
 * directory: beside a directory store's objects, a dotfile never served), and what
 * answers "which stored image is this file?". Both read the store through its interface.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ORIGINAL_PATH, originalPath } from '../image/index.js';
import { ObjectNotFoundError, type ObjectStore } from '../store/index.js';
import { CorruptIndexError, ExactIndex, type IndexEntry } from './exact-index.js';
import { fingerprintOf, fingerprintStored } from './fingerprint.js';

export const indexFile = (stateDir: string): string => join(stateDir, '.hearth-identity.idx');

const original = new RegExp(ORIGINAL_PATH);

/** Ranged reads in flight at once while indexing: enough to hide each read's round trip. */
const INDEX_CONCURRENCY = 32;

export interface IndexStats {
  files: number;
  /** Originals not fingerprinted: kept as JPEG XL (their bytes are a reconstruction away). */
  skipped: number;
  ms: number;
}

/** Every original stored as a JPEG under `/originals/`: its id, store path and size. */
export async function* scanOriginals(store: ObjectStore, skipped?: { jxl: number }): AsyncGenerator<{ id: string; path: string; size: number }> {
  for await (const o of store.list('/originals/')) {
    const m = original.exec(o.key);
    if (m) yield { id: m[1] as string, path: o.key, size: o.size };
    else if (skipped && o.key.endsWith('.jxl')) skipped.jxl++;
  }
}

/** Fingerprints every original under `/originals/` (two 100-byte ranged reads each) and writes the index to `file`. */
export async function indexStore(store: ObjectStore, file: string): Promise<{ index: ExactIndex; stats: IndexStats }> {
  const t0 = performance.now();
  const entries: IndexEntry[] = [];
  const skipped = { jxl: 0 };
  let batch: Promise<IndexEntry | undefined>[] = [];
  const drain = async (): Promise<void> => {
    for (const e of await Promise.all(batch)) if (e) entries.push(e);
    batch = [];
  };
  for await (const { id, path, size } of scanOriginals(store, skipped)) {
    // Removed since it was listed: not an original any more.
    batch.push(
      fingerprintStored(store, path, size).then(
        (fingerprint) => ({ fingerprint, id }),
        (err: unknown) => {
          if (err instanceof ObjectNotFoundError) return undefined;
          throw err;
        },
      ),
    );
    if (batch.length >= INDEX_CONCURRENCY) await drain();
  }
  await drain();
  const index = ExactIndex.build(entries);
  await index.write(file);
  return { index, stats: { files: entries.length, skipped: skipped.jxl, ms: Math.round(performance.now() - t0) } };
}

/** The index at `file`; missing or corrupt, rebuilt (and `rebuilt` says why). */
export async function loadOrBuild(store: ObjectStore, file: string): Promise<{ index: ExactIndex; rebuilt?: string }> {
  try {
    return { index: await ExactIndex.read(file) };
  } catch (err) {
    const why = err instanceof CorruptIndexError ? err.message : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no index yet' : (err as Error).message;
    return { index: (await indexStore(store, file)).index, rebuilt: why };
  }
}

export interface Identified {
  file: string;
  /** The stored image whose original has exactly these bytes, or null. */
  id: string | null;
  /** Ids whose fingerprint matched but whose bytes did not (a fingerprint collision). */
  collisions: string[];
}

/** Which stored image each file is: fingerprint candidates, each confirmed byte for byte. */
export async function identify(store: ObjectStore, index: ExactIndex, file: string): Promise<Identified> {
  const data = await readFile(file);
  const collisions: string[] = [];
  for (const id of index.lookup(fingerprintOf(data))) {
    // Only the original's own bytes can confirm; one over the file's size cannot be it.
    const stored = await store.get(originalPath(id), data.length).catch(() => undefined);
    if (stored?.equals(data)) return { file, id, collisions };
    collisions.push(id);
  }
  return { file, id: null, collisions };
}
