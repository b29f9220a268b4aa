/**
 * Every object of one store into another, bytes and metadata, each read back from the
 * target and compared before it counts: `hearth store import` (a `dir` store into the
 * volumes) and `export` (back). Resumable by construction: a key the target already holds
 * with the same bytes is skipped, so a run stopped by Ctrl-C or a crash is run again.
 */
import type { ObjectStore } from './object-store.js';

export interface CopyResult {
  copied: number;
  /** Already in the target, byte-identical (an earlier run's work). */
  skipped: number;
  /** In the target with other bytes: left as they are, named in `conflicts`. */
  conflicts: string[];
  bytes: number;
}

export async function copyStore(o: {
  from: ObjectStore;
  to: ObjectStore;
  prefix?: string;
  jobs?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}): Promise<CopyResult> {
  const keys: string[] = [];
  for await (const { key } of o.from.list(o.prefix ?? '/')) keys.push(key);
  const result: CopyResult = { copied: 0, skipped: 0, conflicts: [], bytes: 0 };
  let next = 0;
  let done = 0;
  o.onProgress?.(0, keys.length);
  await Promise.all(
    Array.from({ length: o.jobs ?? 16 }, async () => {
      for (let i = next++; i < keys.length && !o.signal?.aborted; i = next++) {
        const key = keys[i]!;
        const data = await o.from.get(key);
        const meta = (await o.from.head(key))?.meta ?? {};
        const created = await o.to.putIfAbsent(key, data, meta);
        if (!(await o.to.get(key)).equals(data)) result.conflicts.push(key);
        else {
          if (created) result.copied++;
          else result.skipped++;
          result.bytes += data.length;
        }
        done++;
        o.onProgress?.(done, keys.length);
      }
    }),
  );
  return result;
}
