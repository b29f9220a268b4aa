/**
 * `hearth compress scrub`: every original kept only as JPEG XL is reconstructed and
 * checked against its recorded digest, at a bounded rate, because bit rot arrives
 * before a viewer does. Damage is reported per file, in the store's damage report and
 * in metrics; the command exits non-zero on any.
 *
 * A .jxl without a digest (written before digests existed) is never trusted silently:
 * it is reported as `no_digest` until an operator runs the scrub with `--adopt`, which
 * records the digest of its current reconstruction, and only after that reconstruction
 * decodes completely as a JPEG. That is weaker than a digest taken from the original
 * (a flip that still decodes would be adopted), so adopted digests say so
 * (`source: "adopted"`) and the scrub counts them apart.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import type { Logger } from '../common/index.js';
import { reportDamage, IntegrityError, digestOf, reconstructChecked, writeDigest, type IntegrityReason, reconstruct } from '../image/index.js';

export type ScrubOutcome = 'ok' | 'adopted' | IntegrityReason;
export const SCRUB_OUTCOMES: readonly ScrubOutcome[] = ['ok', 'adopted', 'no_digest', 'bad_digest', 'undecodable', 'mismatch'];

export interface ScrubResult {
  /** Store path of the .jxl. */
  path: string;
  outcome: ScrubOutcome;
  /** Bytes of the .jxl read. */
  bytes: number;
  error?: string;
}

export interface ScrubOptions {
  store: string;
  /** Under the store; default: all of it. */
  dir?: string;
  /** Bound on .jxl bytes read per second (bit rot is slow; the scrub must not starve the origin). */
  bytesPerSecond: number;
  /** Take in .jxl files without a digest whose reconstruction decodes completely. */
  adopt: boolean;
  log?: Logger;
  onResult?: (r: ScrubResult) => void;
}

/** Every finished .jxl under `root` (temp and quarantined names are the lossless tier's own). */
async function jxlFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const go = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await go(p);
      else if (e.isFile() && e.name.endsWith('.jxl')) out.push(p);
    }
  };
  await go(root);
  return out;
}

export function isDamage(outcome: ScrubOutcome): boolean {
  return outcome !== 'ok' && outcome !== 'adopted';
}

export async function scrub(o: ScrubOptions): Promise<ScrubResult[]> {
  if (!(await stat(o.store).then((st) => st.isDirectory(), () => false))) throw new Error(`no store at ${o.store}`);
  const files = await jxlFiles(join(o.store, o.dir ?? ''));
  const results: ScrubResult[] = [];
  const t0 = performance.now();
  let read = 0;
  for (const file of files) {
    const path = `/${relative(o.store, file).split('\\').join('/')}`;
    const bytes = (await stat(file)).size;
    const r = await checkOne(file, path, bytes, o);
    results.push(r);
    o.onResult?.(r);
    if (isDamage(r.outcome)) {
      o.log?.error({ path, reason: r.outcome, err: r.error, repair: true }, 'scrub: damaged; reported for repair');
      await reportDamage(o.store, { path, reason: r.outcome, by: 'scrub', error: r.error ?? '' });
    } else if (r.outcome === 'adopted') o.log?.warn({ path }, 'scrub: adopted a .jxl that had no digest (its current reconstruction decodes)');
    read += bytes;
    // Ahead of the rate: wait until the bytes read so far fit in the time spent.
    const ahead = (read / o.bytesPerSecond) * 1000 - (performance.now() - t0);
    if (ahead > 0) await new Promise((r2) => setTimeout(r2, ahead));
  }
  return results;
}

async function checkOne(file: string, path: string, bytes: number, o: ScrubOptions): Promise<ScrubResult> {
  try {
    await reconstructChecked(file);
    return { path, outcome: 'ok', bytes };
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    if (err.reason !== 'no_digest' || !o.adopt) return { path, outcome: err.reason, bytes, error: err.message };
  }
  let jpeg: Buffer;
  try {
    jpeg = await reconstruct(file);
    // Every scan, every block: a flip in the entropy-coded data that breaks decoding shows here.
    await sharp(jpeg, { failOn: 'warning', limitInputPixels: false }).raw().toBuffer();
  } catch (err) {
    return { path, outcome: 'undecodable', bytes, error: `not adopted: ${String((err as Error).message).slice(0, 200)}` };
  }
  await writeDigest(file, digestOf(jpeg, 'adopted'));
  return { path, outcome: 'adopted', bytes };
}
