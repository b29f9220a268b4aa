/**
 * Lossless recompression of originals: JPEG → JPEG XL (cjxl's lossless JPEG
 * transcode, reconstruction data kept), verified byte for byte before the original
 * goes, through the store interface, so it runs on any driver. The order makes a kill -9
 * at any point safe:
 *
 *   read the original → cjxl (temp files outside the store) → verify the .jxl against
 *   the original → put the .jxl with the original's SHA-256 and length as its metadata,
 *   one atomic, durable put → delete the original.
 *
 * So a stored `.jxl` always holds verified bytes with their digest, and the original is
 * removed only after that. Every later reconstruction is checked against the digest
 * (image/jxl-digest.ts). A `.jxl` found beside its original (a crash between the last
 * two steps) is verified again before the original goes. A mismatch keeps the original,
 * is recorded in a ledger and is not tried again until the ledger entry is removed.
 *
 * The run lock and the ledger are the batch's own files, not store objects: beside a
 * directory store's objects, or in `stateDir`.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireRunLock, writeAtomic } from '../common/index.js';
import type { Logger } from '../common/index.js';
import {
  digestOf,
  legacyDigestKey,
  locationPolicy,
  matches,
  originalFormat,
  readDigest,
  reconstructs,
  storeWithDigest,
  sweepJxlTemps,
  transcodeJpeg,
} from '../image/index.js';
import { tierStateDir, withStore, type ListedObject, type ObjectStore } from '../store/index.js';
import type { LOSSLESS_OUTCOMES } from './lossless-metrics.js';

export interface LosslessPolicy {
  /** Only originals last modified more than this many days ago (where the driver keeps the time; otherwise none is excluded by age). */
  olderThanDays?: number;
  /** Only originals larger than this. */
  largerThanBytes?: number;
  /** Only these store paths (e.g. rarely viewed private photos). */
  only?: ReadonlySet<string>;
}

export type LosslessOutcome = (typeof LOSSLESS_OUTCOMES)[number];

export interface LosslessResult {
  path: string;
  outcome: LosslessOutcome;
  bytesBefore?: number;
  bytesAfter?: number;
  error?: string;
  /** Wall time spent on this file. */
  seconds?: number;
}

export interface LosslessOptions {
  /** A directory store or a store service's address (store/open.ts). */
  store: string;
  /** Where the originals are, under the store (default `originals`). */
  dir?: string;
  policy: LosslessPolicy;
  /** Where the run lock and the ledger live (default: the directory store's root). */
  stateDir?: string;
  /** cjxl effort: 3 is as good as 5–7 for JPEG transcodes here, and much faster. */
  effort?: number;
  /** Files converted at once. */
  jobs?: number;
  /** The largest original read into memory; larger ones are skipped by policy. */
  maxReadBytes?: number;
  now?: () => number;
  log?: Logger;
  onResult?: (r: LosslessResult) => void;
}

const isOriginal = (key: string): boolean => /\.jpe?g$/i.test(key);
const jxlKeyOf = (key: string): string => key.replace(/\.jpe?g$/i, '.jxl');

export async function recompressOriginals(o: LosslessOptions): Promise<LosslessResult[]> {
  const state = tierStateDir(o.store, o.stateDir, 'hearth compress originals');
  return withStore(
    o.store,
    async (store) => {
      await mkdir(state, { recursive: true });
      // Two runs on one store would race on each original.
      const release = await acquireRunLock(join(state, '.hearth-lossless.lock'), `a lossless run on ${o.store}`);
      try {
        // A killed run's tool temp files, outside the store.
        await sweepJxlTemps();
        return await batch(o, store, join(state, '.hearth-lossless-ledger.json'));
      } finally {
        await release();
      }
    },
    { ready: true },
  );
}

async function batch(o: LosslessOptions, store: ObjectStore, ledgerFile: string): Promise<LosslessResult[]> {
  const ledger: Record<string, string> = await readFile(ledgerFile, 'utf8').then(
    (t) => JSON.parse(t) as Record<string, string>,
    () => ({}),
  );
  const now = o.now ?? Date.now;
  const prefix = `/${(o.dir ?? 'originals').replace(/^\/+|\/+$/g, '')}/`;
  const listed: ListedObject[] = [];
  for await (const obj of store.list(prefix)) listed.push(obj);
  const keys = new Set(listed.map((l) => l.key));
  // Left by runs of the file-based batch this one replaced: temp names, and digests whose .jxl never took its name.
  for (const l of listed) {
    const tempOfOld = /\.jxl(?:\.digest)?\.tmp-\d+-[a-z0-9]+$/.test(l.key);
    const orphanDigest = l.key.endsWith('.jxl.digest') && !keys.has(l.key.slice(0, -'.digest'.length));
    if (tempOfOld || orphanDigest) await store.delete(l.key);
  }
  const originals = listed.filter((l) => isOriginal(l.key));
  const results: LosslessResult[] = [];
  const report = (r: LosslessResult): void => {
    results.push(r);
    o.onResult?.(r);
  };
  // Written at once, so a failure is remembered even if the run is killed next.
  const remember = async (path: string, why: string): Promise<void> => {
    ledger[path] = why;
    await writeAtomic(ledgerFile, Buffer.from(JSON.stringify(ledger, null, 2)));
  };

  const one = async (l: ListedObject): Promise<LosslessResult> => {
    const path = l.key;
    const jxlKey = jxlKeyOf(path);
    if (ledger[path]) return { path, outcome: 'skipped_ledger' };
    const finished = keys.has(jxlKey) || (await store.head(jxlKey)) !== undefined;
    const p = o.policy;
    const tooLarge = o.maxReadBytes !== undefined && l.size > o.maxReadBytes;
    if (
      !finished &&
      (tooLarge ||
        (p.only && !p.only.has(path)) ||
        (p.largerThanBytes !== undefined && l.size <= p.largerThanBytes) ||
        (p.olderThanDays !== undefined && l.modifiedMs !== undefined && now() - l.modifiedMs < p.olderThanDays * 86_400_000))
    ) {
      return { path, outcome: 'skipped_policy' };
    }
    const original = await store.get(path, o.maxReadBytes);
    if (finished) {
      // A crash came after the .jxl was stored: it was verified then; verify again before the original goes.
      const jxl = await store.get(jxlKey);
      if (await reconstructs(jxl, original)) {
        // Only the original can say whether the recorded digest is its own (a store from before may hold an older sidecar).
        const recorded = await readDigest(store, jxlKey).catch(() => undefined);
        if (!recorded || !matches(original, recorded)) await storeWithDigest(store, jxlKey, jxl, digestOf(original), locationPolicy(l.meta));
        await store.delete(path);
        return { path, outcome: 'finished_earlier_run', bytesBefore: original.length, bytesAfter: jxl.length };
      }
      const quarantine = `${jxlKey}.corrupt-${now()}`;
      await store.copy(jxlKey, quarantine);
      await store.delete(jxlKey);
      await store.delete(legacyDigestKey(jxlKey));
      await remember(path, `existing .jxl does not reconstruct the original; moved to ${quarantine}`);
      o.log?.error({ path, quarantine }, 'a .jxl beside its original does not reconstruct it; original kept');
      return { path, outcome: 'mismatch', error: ledger[path] };
    }
    // A phone's HEIC (or an AVIF) has no lossless JPEG XL form: kept as it is, nothing to remember.
    if (originalFormat(original) !== 'jpeg') return { path, outcome: 'not_jpeg' };
    let jxl: Buffer;
    try {
      jxl = await transcodeJpeg(original, o.effort ?? 3);
    } catch (err) {
      await remember(
        path,
        `cjxl refused it: ${String((err as { stderr?: string }).stderr ?? err)
          .trim()
          .slice(0, 200)}`,
      );
      o.log?.warn({ path }, 'not a JPEG cjxl can transcode; original kept');
      return { path, outcome: 'not_jpeg', error: ledger[path] };
    }
    if (!(await reconstructs(jxl, original))) {
      await remember(path, 'the .jxl did not reconstruct the original byte for byte');
      o.log?.error({ path }, 'lossless transcode did not verify; original kept');
      return { path, outcome: 'mismatch', error: ledger[path] };
    }
    // The original's serving policy goes with it: the JPEG served from the .jxl is served as the original was.
    await storeWithDigest(store, jxlKey, jxl, digestOf(original), locationPolicy(l.meta));
    await store.delete(path);
    return { path, outcome: 'converted', bytesBefore: original.length, bytesAfter: jxl.length };
  };

  const queue = [...originals];
  let failure: unknown;
  await Promise.all(
    Array.from({ length: o.jobs ?? 2 }, async () => {
      // After a failure no lane takes another file, and the batch ends only once every
      // lane has finished the file it holds: nothing of this run goes on behind its back.
      for (let f = queue.shift(); f && failure === undefined; f = queue.shift()) {
        const t0 = performance.now();
        try {
          const r = await one(f);
          report({ ...r, seconds: (performance.now() - t0) / 1000 });
        } catch (err) {
          failure ??= err;
        }
      }
    }),
  );
  // What a lane caught, rethrown as it was (our own code throws Errors).
  if (failure !== undefined) throw failure as Error;
  return results;
}
