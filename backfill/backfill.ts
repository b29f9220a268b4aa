/**
 * Backfill: one hearth.images.uploaded message per existing original, at a set rate,
 * resumable. Entries are taken in a stable order and a checkpoint (how many were
 * acknowledged by Kafka) is written atomically after every batch, so after Ctrl-C or
 * a crash a rerun starts where it stopped; at most one batch is sent twice, which the
 * resize tier handles idempotently.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Producer } from 'kafkajs';
import { isImageId, writeAtomic } from '../common/index.js';
import { ORIGINAL_PATH, originalPath, pathMismatch } from '../image/index.js';
import { TOPICS, STORE_PATH, type Uploaded } from '../kafka/index.js';
import type { ObjectStore } from '../store/index.js';

export interface BackfillEntry {
  id: string;
  source: string;
}

const PATH = new RegExp(STORE_PATH);

/**
 * Every original of the store, in the store's listing order: each stored at the path its
 * id implies (the only source an upload message may name). Anything else under
 * `/originals/` (a JPEG XL original, a verdict, a JPEG at another path) is no entry;
 * `misplaced` lists the JPEGs among them, which no tier would accept.
 */
export async function listOriginals(store: ObjectStore): Promise<{ entries: BackfillEntry[]; misplaced: string[] }> {
  const original = new RegExp(ORIGINAL_PATH);
  const entries: BackfillEntry[] = [];
  const misplaced: string[] = [];
  for await (const { key } of store.list('/originals/')) {
    const id = original.exec(key)?.[1];
    if (id === undefined) continue;
    if (key === originalPath(id) && isImageId(id)) entries.push({ id, source: key });
    else misplaced.push(key);
  }
  return { entries, misplaced };
}

/** A list file: one `<id> <store path>` per line; `#` comments and blank lines skipped. Bad lines are errors, named by line. */
export function readList(file: string): BackfillEntry[] {
  const problems: string[] = [];
  const out: BackfillEntry[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const [id, source, extra] = line.split(/\s+/);
      if (!id || !source || extra !== undefined || !isImageId(id) || !PATH.test(source))
        problems.push(`line ${i + 1}: expected "<id> <its original's store path>" (got ${JSON.stringify(line.slice(0, 80))})`);
      else if (pathMismatch(id, source, originalPath(id))) problems.push(`line ${i + 1}: ${pathMismatch(id, source, originalPath(id))}`);
      else out.push({ id, source });
    });
  if (problems.length) throw new Error(`${file}:\n  ${problems.slice(0, 20).join('\n  ')}`);
  return out;
}

interface Checkpoint {
  /** Identifies the entry list, so a checkpoint is never applied to another one. */
  list: string;
  done: number;
  total: number;
}

export function listFingerprint(entries: readonly BackfillEntry[]): string {
  const h = createHash('sha256');
  for (const e of entries) h.update(`${e.id} ${e.source}\n`);
  return h.digest('hex');
}

export function readCheckpoint(file: string, entries: readonly BackfillEntry[]): number {
  let c: Checkpoint;
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
  } catch {
    return 0;
  }
  if (c.list !== listFingerprint(entries)) {
    throw new Error(`checkpoint ${file} belongs to another list of originals; remove it (or pass --restart) to start over`);
  }
  return Math.min(c.done, entries.length);
}

export interface BackfillOptions {
  entries: readonly BackfillEntry[];
  producer: Producer;
  checkpoint: string;
  /** Messages per second. */
  rate: number;
  batch: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Returns how many entries are done (all of them unless aborted). */
export async function runBackfill(o: BackfillOptions): Promise<number> {
  const list = listFingerprint(o.entries);
  let done = readCheckpoint(o.checkpoint, o.entries);
  const total = o.entries.length;
  o.onProgress?.(done, total);
  const start = performance.now();
  const startDone = done;
  while (done < total && !o.signal?.aborted) {
    const slice = o.entries.slice(done, done + o.batch);
    // Pace: the batch may go once the rate allows its last message.
    const due = start + ((done - startDone + slice.length) * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const ts = Date.now();
    await o.producer.send({
      topic: TOPICS.uploaded,
      messages: slice.map((e) => ({ key: e.id, value: JSON.stringify({ id: e.id, source: e.source, ts } satisfies Uploaded) })),
    });
    done += slice.length;
    await writeAtomic(o.checkpoint, Buffer.from(JSON.stringify({ list, done, total } satisfies Checkpoint)));
    o.onProgress?.(done, total);
  }
  return done;
}
