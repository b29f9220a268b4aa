/**
 * Taking a photo back: which paths a cache may hold of it, which objects the store holds
 * of it, and the order of a delete.
 *
 * The order is what makes a delete hold against every writer and reader at once:
 * 1. the `deleted` verdict is written (durably) first: from then on the origin answers
 *    410 for every path of the photo and makes nothing of it;
 * 2. every object of the photo is removed (original, its JPEG XL and digest, every size
 *    in every encoding, a quarantined copy): the origin front, which serves stored objects without asking
 *    the origin service, then finds nothing and asks the service, which says 410;
 * 3. only then is the delete announced (hearth.images.takedown), and the caches purge.
 *
 * A writer that made an object of the photo concurrently (the origin storing a size it
 * made on the fly, the resize or perceptual tier) writes first and reads the verdict
 * after (`putUnlessTakenDown`): either it sees the verdict and removes what it wrote, or
 * its write came before the verdict and so before step 2, which removes it. Neither
 * order leaves an object of a deleted photo in the store.
 */
import type { ObjectMeta, ObjectStore } from '../store/index.js';
import { DEFAULT_LADDER, type SizeSpec } from './ladder.js';
import { FORMAT_CLASSES } from './formats.js';
import { plainPaths, secretPaths, type Secrets } from './secrets.js';
import { imagePath, originalPath, variantPath } from './store.js';
import { quarantinePath, readVerdict, writeVerdict, type Verdict } from './verdicts.js';

/**
 * Every path a cache may hold of a photo: each size of the ladder and the original, under
 * its secrets when it has them, and in the layout from before secrets (a cache may hold
 * those from before the photo was given its secrets).
 */
export function servedPaths(id: string, secrets?: Pick<Secrets, 'size' | 'original'>, ladder: readonly SizeSpec[] = DEFAULT_LADDER): string[] {
  return [...(secrets ? secretPaths(id, secrets, ladder) : []), ...plainPaths(id, ladder)];
}

/** Every size the store may hold of a photo, in every encoding: each JPEG, and each AVIF or WebP the origin made and kept. */
export const sizeKeys = (id: string, ladder: readonly SizeSpec[] = DEFAULT_LADDER): string[] =>
  ladder.flatMap((x) => [imagePath(id, x.name), ...FORMAT_CLASSES.filter((f) => f !== 'jpeg').map((f) => variantPath(id, x.name, f))]);

/** Every object the store may hold of a photo, but its verdict and its secrets (what a delete keeps). */
export function photoKeys(id: string, ladder: readonly SizeSpec[] = DEFAULT_LADDER): string[] {
  const original = originalPath(id);
  const jxl = original.replace(/\.jpg$/, '.jxl');
  return [...sizeKeys(id, ladder), original, jxl, `${jxl}.digest`, quarantinePath(id)];
}

/** Verdicts under which nothing of a photo is stored or served again (a quarantine lifted is no longer one). */
export const isTakenDown = (v: Verdict | undefined): v is Verdict & { verdict: 'deleted' | 'quarantined' } =>
  v?.verdict === 'deleted' || v?.verdict === 'quarantined';

export interface DeleteOutcome {
  id: string;
  /** Store keys that held an object and hold none now. */
  removed: string[];
  /** When the verdict was written (ISO 8601): the first delete's, on a repeat. */
  at: string;
  /** false when the photo was deleted already (the objects were looked for again all the same). */
  first: boolean;
}

/** Steps 1 and 2 above; idempotent (a repeat removes whatever a crash left, keeps the first verdict). */
export async function deletePhoto(store: ObjectStore, id: string, by: string, ladder: readonly SizeSpec[] = DEFAULT_LADDER): Promise<DeleteOutcome> {
  const earlier = await readVerdict(store, id);
  const first = earlier?.verdict !== 'deleted';
  const at = earlier?.verdict === 'deleted' ? earlier.at : new Date().toISOString();
  if (first) await writeVerdict(store, id, { v: 1, verdict: 'deleted', at, by });
  const keys = photoKeys(id, ladder);
  const gone = await Promise.all(keys.map((k) => store.delete(k)));
  return { id, removed: keys.filter((_, i) => gone[i]), at, first };
}

/**
 * Creates `key` of photo `id` (never replacing an object there: a URL's bytes never change
 * once anyone could have them) unless the photo is taken down: `created`, `exists` (the
 * first writer's bytes stand), or `taken_down` (nothing of it is left, as below).
 */
export async function createUnlessTakenDown(
  store: ObjectStore,
  id: string,
  key: string,
  data: Buffer,
  meta?: ObjectMeta,
): Promise<'created' | 'exists' | 'taken_down'> {
  const created = await store.putIfAbsent(key, data, meta);
  if (!isTakenDown(await readVerdict(store, id))) return created ? 'created' : 'exists';
  await store.delete(key);
  return 'taken_down';
}

/**
 * Writes `key` of photo `id` unless the photo is taken down, and says whether it stands:
 * the write comes first and the verdict is read after it (see above), so a delete that
 * races the write never leaves the object behind.
 */
export async function putUnlessTakenDown(store: ObjectStore, id: string, key: string, data: Buffer, meta?: ObjectMeta): Promise<boolean> {
  await store.put(key, data, meta);
  if (!isTakenDown(await readVerdict(store, id))) return true;
  await store.delete(key);
  return false;
}
