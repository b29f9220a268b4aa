/**
 * The exact index of a store's originals (`<store>/.hearth-identity.idx`: a dotfile,
 * never served), and what answers "which stored image is this file?".
 */
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ORIGINAL_PATH, originalPath } from '../image/index.js';
import { storeFile } from '../store/index.js';
import { CorruptIndexError, ExactIndex, type IndexEntry } from './exact-index.js';
import { fingerprintFile, fingerprintOf } from './fingerprint.js';

export const indexFile = (store: string): string => join(store, '.hearth-identity.idx');

const original = new RegExp(ORIGINAL_PATH);

export interface IndexStats {
  files: number;
  /** Originals not fingerprinted: kept as JPEG XL (their bytes are a reconstruction away). */
  skipped: number;
  ms: number;
}

/** Every original stored as a JPEG under `<store>/originals`: its id and store path. */
export async function* scanOriginals(store: string, skipped?: { jxl: number }): AsyncGenerator<{ id: string; path: string }> {
  const root = join(store, 'originals');
  const names = await readdir(root, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  for (const name of names) {
    const path = `/${relative(store, join(root, name)).split('\\').join('/')}`;
    const m = original.exec(path);
    if (m) yield { id: m[1] as string, path };
    else if (skipped && name.endsWith('.jxl')) skipped.jxl++;
  }
}

/** Fingerprints every original under `<store>/originals` (two 100-byte reads each) and writes the index. */
export async function indexStore(store: string): Promise<{ index: ExactIndex; stats: IndexStats }> {
  const t0 = performance.now();
  const entries: IndexEntry[] = [];
  const skipped = { jxl: 0 };
  for await (const { id, path } of scanOriginals(store, skipped)) {
    const { fingerprint } = fingerprintFile(storeFile(store, path));
    entries.push({ fingerprint, id });
  }
  const index = ExactIndex.build(entries);
  await index.write(indexFile(store));
  return { index, stats: { files: entries.length, skipped: skipped.jxl, ms: Math.round(performance.now() - t0) } };
}

/** The store's index; missing or corrupt, rebuilt (and `rebuilt` says why). */
export async function loadOrBuild(store: string): Promise<{ index: ExactIndex; rebuilt?: string }> {
  try {
    return { index: await ExactIndex.read(indexFile(store)) };
  } catch (err) {
    const why = err instanceof CorruptIndexError ? err.message : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no index yet' : (err as Error).message;
    return { index: (await indexStore(store)).index, rebuilt: why };
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
export async function identify(store: string, index: ExactIndex, file: string): Promise<Identified> {
  const data = await readFile(file);
  const collisions: string[] = [];
  for (const id of index.lookup(fingerprintOf(data))) {
    const stored = await readFile(storeFile(store, originalPath(id))).catch(() => undefined);
    if (stored?.equals(data)) return { file, id, collisions };
    collisions.push(id);
  }
  return { file, id: null, collisions };
}
