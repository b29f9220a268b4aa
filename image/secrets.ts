/**
 * A photo's secrets: what makes its paths unguessable. Drawn at upload (64 random bits
 * each: at a million guesses a second through a cache, finding one takes ~290,000 years
 * on average) and kept beside its original (`/originals/<dir>/<id>.secrets.json`, never a
 * served path). The original has a secret of its own, so a page that shows sizes gives
 * away nothing of the original. The origin answers a path whose secret is not the
 * photo's exactly as it answers an id that does not exist.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { HearthError, Validator } from '../common/index.js';
import { ObjectNotFoundError, type ObjectStore } from '../store/index.js';
import { DEFAULT_LADDER, type SizeSpec } from './ladder.js';
import { imagePath, originalPath, secretImagePath, secretOriginalPath } from './store.js';

const HEX16 = '^[0-9a-f]{16}$';
export const SecretsSchema = Type.Object(
  {
    v: Type.Literal(1),
    size: Type.String({ pattern: HEX16, description: "the sizes' secret" }),
    original: Type.String({ pattern: HEX16, description: "the original's secret" }),
    at: Type.String({ description: 'when they were drawn (ISO 8601)' }),
  },
  { additionalProperties: false },
);
export type Secrets = Static<typeof SecretsSchema>;
const validator = new Validator(SecretsSchema, 'photo secrets');

/** The store path of a photo's secrets. */
export const secretsPath = (id: string): string => originalPath(id).replace(/\.jpg$/, '.secrets.json');

export const newSecrets = (): Secrets => ({
  v: 1,
  size: randomBytes(8).toString('hex'),
  original: randomBytes(8).toString('hex'),
  at: new Date().toISOString(),
});

/** A photo's secrets, or undefined for one stored before secrets (served under its store paths). */
export async function readSecrets(store: ObjectStore, id: string): Promise<Secrets | undefined> {
  let value: unknown;
  try {
    value = JSON.parse((await store.get(secretsPath(id), 4096)).toString('utf8'));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw new HearthError('HEARTH_ERR_INVALID', `${secretsPath(id)}: ${(err as Error).message}`);
  }
  if (!validator.is(value)) throw new HearthError('HEARTH_ERR_INVALID', `${secretsPath(id)}: ${validator.problems(value).join('; ')}`);
  return value;
}

/** Secrets for a photo that has none (false: it had some, kept). */
export const createSecrets = (store: ObjectStore, id: string, s: Secrets = newSecrets()): Promise<boolean> =>
  store.putIfAbsent(secretsPath(id), Buffer.from(`${JSON.stringify(s)}\n`));

/** New secrets in place of the old (a photo made private again): its old paths stop answering at once. */
export const replaceSecrets = (store: ObjectStore, id: string, s: Secrets = newSecrets()): Promise<void> =>
  store.put(secretsPath(id), Buffer.from(`${JSON.stringify(s)}\n`));

/** Whether `given` is the secret: in constant time, so a wrong guess takes as long as a near one. */
export function sameSecret(given: string, actual: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(actual);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A photo's served paths with its secrets: every size, then the original. */
export const secretPaths = (id: string, s: Pick<Secrets, 'size' | 'original'>, ladder: readonly SizeSpec[] = DEFAULT_LADDER): string[] => [
  ...ladder.map((x) => secretImagePath(id, s.size, x.name)),
  secretOriginalPath(id, s.original),
];

/** Its paths in the layout from before secrets (what a cache may still hold of a photo given secrets later). */
export const plainPaths = (id: string, ladder: readonly SizeSpec[] = DEFAULT_LADDER): string[] => [
  ...ladder.map((x) => imagePath(id, x.name)),
  originalPath(id),
];
