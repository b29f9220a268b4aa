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
import sharp from 'sharp';
import type { Logger } from '../common/index.js';
import { IntegrityError, digestOf, reconstruct, reconstructVerified, readDigest, storeWithDigest, type IntegrityReason } from '../image/index.js';
import { DamagedObjectError, withStore, type ListedObject, type ObjectStore } from '../store/index.js';

/** `checksum`: the store's own checksum of the object failed (a damaged needle): the store refuses to hand it over at all. */
export type ScrubOutcome = 'ok' | 'adopted' | IntegrityReason | 'checksum';
export const SCRUB_OUTCOMES: readonly ScrubOutcome[] = ['ok', 'adopted', 'no_digest', 'bad_digest', 'undecodable', 'mismatch', 'checksum'];

export interface ScrubResult {
  /** Store path of the .jxl. */
  path: string;
  outcome: ScrubOutcome;
  /** Bytes of the .jxl read. */
  bytes: number;
  error?: string;
}

export interface ScrubOptions {
  /** A directory store or a store service's address (store/open.ts). */
  store: string;
  /** Under the store; default: all of it. */
  dir?: string;
  /** Bound on .jxl bytes read per second (bit rot is slow; the scrub must not starve the origin). */
  bytesPerSecond: number;
  /** Take in .jxl files without a digest whose reconstruction decodes completely. */
  adopt: boolean;
  maxReadBytes?: number;
  log?: Logger;
  onResult?: (r: ScrubResult) => void;
}

export function isDamage(outcome: ScrubOutcome): boolean {
  return outcome !== 'ok' && outcome !== 'adopted';
}

export async function scrub(o: ScrubOptions): Promise<ScrubResult[]> {
  return withStore(
    o.store,
    async (store) => {
      const prefix = o.dir ? `/${o.dir.replace(/^\/+|\/+$/g, '')}/` : '/';
      const results: ScrubResult[] = [];
      const t0 = performance.now();
      let read = 0;
      // Finished .jxl objects only (quarantined and temp names are the lossless tier's own).
      for await (const obj of store.list(prefix)) {
        if (!obj.key.endsWith('.jxl')) continue;
        const r = await checkOne(store, obj, o);
        results.push(r);
        o.onResult?.(r);
        if (isDamage(r.outcome)) {
          o.log?.error({ path: r.path, reason: r.outcome, err: r.error, repair: true }, 'scrub: damaged; reported for repair');
          await store.reportDamage({ path: r.path, reason: r.outcome, by: 'scrub', error: r.error ?? '' });
        } else if (r.outcome === 'adopted') o.log?.warn({ path: r.path }, 'scrub: adopted a .jxl that had no digest (its current reconstruction decodes)');
        read += obj.size;
        // Ahead of the rate: wait until the bytes read so far fit in the time spent.
        const ahead = (read / o.bytesPerSecond) * 1000 - (performance.now() - t0);
        if (ahead > 0) await new Promise((r2) => setTimeout(r2, ahead));
      }
      return results;
    },
    { ready: true },
  );
}

async function checkOne(store: ObjectStore, obj: ListedObject, o: ScrubOptions): Promise<ScrubResult> {
  const path = obj.key;
  const bytes = obj.size;
  let jxl: Buffer;
  try {
    jxl = await store.get(path, o.maxReadBytes);
    const digest = await readDigest(store, path, obj.meta);
    if (digest) {
      await reconstructVerified(path, jxl, digest);
      return { path, outcome: 'ok', bytes };
    }
    if (!o.adopt)
      return { path, outcome: 'no_digest', bytes, error: `${path} has no recorded digest of its original; not trusted (see hearth compress scrub --adopt)` };
  } catch (err) {
    if (err instanceof DamagedObjectError) return { path, outcome: 'checksum', bytes, error: err.message };
    if (!(err instanceof IntegrityError)) throw err;
    return { path, outcome: err.reason, bytes, error: err.message };
  }
  let jpeg: Buffer;
  try {
    jpeg = await reconstruct(jxl);
    // Every scan, every block: a flip in the entropy-coded data that breaks decoding shows here.
    await sharp(jpeg, { failOn: 'warning', limitInputPixels: false }).raw().toBuffer();
  } catch (err) {
    return { path, outcome: 'undecodable', bytes, error: `not adopted: ${String((err as Error).message).slice(0, 200)}` };
  }
  await storeWithDigest(store, path, jxl, digestOf(jpeg, 'adopted'));
  return { path, outcome: 'adopted', bytes };
}
