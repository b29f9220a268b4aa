/**
 * Lossless recompression of originals: JPEG → JPEG XL (cjxl's lossless JPEG
 * transcode, reconstruction data kept), verified byte for byte with djxl before the
 * original goes. The order makes a kill -9 at any point safe:
 *
 *   cjxl → temp .jxl, fsync → verify against the original → write the original's
 *   SHA-256 and length beside it (`<id>.jxl.digest`, fsynced) → rename the .jxl into
 *   place, fsync the directory → remove the original, fsync the directory.
 *
 * So a final `.jxl` name always holds a verified file with its digest already durable,
 * and the original is removed only after that. Every later reconstruction is checked
 * against the digest (image/jxl-digest.ts). A `.jxl` found beside its original (a crash between the last two steps)
 * is verified again before the original goes. A mismatch keeps the original, is
 * recorded in a ledger and is not tried again until the ledger entry is removed.
 */
import { lstat, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { runTied, acquireRunLock, syncPath, writeAtomic } from '../common/index.js';
import type { Logger } from '../common/index.js';
import { digestOf, matches, readDigest, writeDigest, reconstructs } from '../image/index.js';
import type { LOSSLESS_OUTCOMES } from './lossless-metrics.js';

export interface LosslessPolicy {
  /** Only originals last modified more than this many days ago. */
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
  store: string;
  dir?: string;
  policy: LosslessPolicy;
  /** cjxl effort: 3 is as good as 5–7 for JPEG transcodes here, and much faster. */
  effort?: number;
  /** Files converted at once. */
  jobs?: number;
  /** Where mismatches are remembered (default `<store>/.hearth-lossless-ledger.json`). */
  ledger?: string;
  now?: () => number;
  log?: Logger;
  onResult?: (r: LosslessResult) => void;
}

async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  const go = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(d)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      // lstat: a link is never followed, so an original linked from outside the store is
      // neither read into a .jxl nor "removed" (only its link would go).
      const st = await lstat(p);
      if (st.isDirectory()) await go(p);
      else if (st.isFile()) out.push(p);
    }
  };
  await go(root);
  return out;
}

export async function recompressOriginals(o: LosslessOptions): Promise<LosslessResult[]> {
  if (!(await stat(o.store).then((st) => st.isDirectory(), () => false))) throw new Error(`no store at ${o.store}`);
  // Two runs on one store would remove each other's temp files and race on each original.
  const release = await acquireRunLock(join(o.store, '.hearth-lossless.lock'), `a lossless run on ${o.store}`);
  try {
    return await batch(o);
  } finally {
    await release();
  }
}

async function batch(o: LosslessOptions): Promise<LosslessResult[]> {
  const ledgerFile = o.ledger ?? join(o.store, '.hearth-lossless-ledger.json');
  const ledger: Record<string, string> = await readFile(ledgerFile, 'utf8').then((t) => JSON.parse(t) as Record<string, string>, () => ({}));
  const now = o.now ?? Date.now;
  const files = await walk(join(o.store, o.dir ?? 'originals'));
  // Leftovers of a killed run are only ever temp names: remove them.
  for (const f of files.filter((p) => /\.jxl(?:\.digest)?\.tmp-\d+-[a-z0-9]+$/.test(p))) await rm(f, { force: true });
  // A digest whose .jxl never took its name belongs to a conversion killed before the
  // rename; its original is still there (it goes only after the rename), so it is redone.
  const present = new Set(files);
  for (const f of files.filter((p) => p.endsWith('.jxl.digest') && !present.has(p.slice(0, -'.digest'.length)))) await rm(f, { force: true });
  const originals = files.filter((f) => /\.jpe?g$/i.test(f));
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

  const one = async (file: string): Promise<LosslessResult> => {
    const path = `/${relative(o.store, file).split('\\').join('/')}`;
    const jxl = file.replace(/\.jpe?g$/i, '.jxl');
    if (ledger[path]) return { path, outcome: 'skipped_ledger' };
    const st = await stat(file);
    const original = await readFile(file);
    const finished = await stat(jxl).then(() => true, () => false);
    if (finished) {
      // A crash came after the rename: the .jxl was verified then; verify again before the original goes.
      if (await reconstructs(jxl, file, original)) {
        // A crash between the digest and the rename can leave an older digest: the original decides.
        const recorded = await readDigest(jxl).catch(() => undefined);
        if (!recorded || !matches(original, recorded)) await writeDigest(jxl, digestOf(original));
        await rm(file);
        await syncPath(dirname(file));
        return { path, outcome: 'finished_earlier_run', bytesBefore: st.size, bytesAfter: (await stat(jxl)).size };
      }
      const quarantine = `${jxl}.corrupt-${now()}`;
      await rename(jxl, quarantine);
      await remember(path, `existing .jxl does not reconstruct the original; moved to ${relative(o.store, quarantine)}`);
      o.log?.error({ path, quarantine }, 'a .jxl beside its original does not reconstruct it; original kept');
      return { path, outcome: 'mismatch', error: ledger[path] };
    }
    const p = o.policy;
    if ((p.only && !p.only.has(path)) || (p.largerThanBytes !== undefined && st.size <= p.largerThanBytes) || (p.olderThanDays !== undefined && now() - st.mtimeMs < p.olderThanDays * 86_400_000)) {
      return { path, outcome: 'skipped_policy' };
    }
    const tmp = `${jxl}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      try {
        await runTied('cjxl', [file, tmp, `--effort=${o.effort ?? 3}`, '--lossless_jpeg=1', '--num_threads=1', '--quiet'], { maxBuffer: 1 << 20 });
      } catch (err) {
        await remember(path, `cjxl refused it: ${String((err as { stderr?: string }).stderr ?? err).trim().slice(0, 200)}`);
        o.log?.warn({ path }, 'not a JPEG cjxl can transcode; original kept');
        return { path, outcome: 'not_jpeg', error: ledger[path] };
      }
      await syncPath(tmp);
      if (!(await reconstructs(tmp, file, original))) {
        await remember(path, 'the .jxl did not reconstruct the original byte for byte');
        o.log?.error({ path }, 'lossless transcode did not verify; original kept');
        return { path, outcome: 'mismatch', error: ledger[path] };
      }
      const bytesAfter = (await stat(tmp)).size;
      await writeDigest(jxl, digestOf(original));
      await rename(tmp, jxl);
      await syncPath(dirname(jxl));
      await rm(file);
      await syncPath(dirname(file));
      return { path, outcome: 'converted', bytesBefore: st.size, bytesAfter };
    } finally {
      await rm(tmp, { force: true });
    }
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
