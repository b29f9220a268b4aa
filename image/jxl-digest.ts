/**
 * The digest of an original kept only as JPEG XL. "A corrupted source image cannot be
 * recovered": once the original is gone, a .jxl with a flipped bit can still decode, to
 * a JPEG that differs from the upload (issue 9 found 11 in 200 single-bit flips). So the
 * lossless tier records the original's SHA-256 and length in the .jxl object's own
 * metadata (`jpeg-sha256`, `jpeg-bytes`, …), written with its bytes in one atomic put
 * before the original is removed, and every reconstruction is checked against it.
 * Stores from before keep it in a sidecar object, `<id>.jxl.digest`, which is still
 * read (and replaced by metadata when the scrub adopts). A .jxl without a digest is
 * never served: `hearth compress scrub --adopt` is the explicit, logged way to take one in.
 */
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { HearthError, Validator } from '../common/index.js';
import { ObjectNotFoundError, type ObjectMeta, type ObjectStore } from '../store/index.js';
import { isDecoderVerdict, reconstruct, stderrText } from './jxl.js';

const DigestSchema = Type.Object(
  {
    v: Type.Literal(1),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    bytes: Type.Integer({ minimum: 1 }),
    /** `transcode`: taken from the original itself; `adopted`: from a reconstruction an operator chose to trust. */
    source: Type.Union([Type.Literal('transcode'), Type.Literal('adopted')]),
    at: Type.String(),
  },
  { additionalProperties: false },
);
export type JxlDigest = Static<typeof DigestSchema>;
const digestValidator = new Validator(DigestSchema, 'digest');

/** The sidecar object stores from before digests moved into metadata keep beside a .jxl. */
export const legacyDigestKey = (jxlKey: string): string => `${jxlKey}.digest`;

/** Why a reconstruction is refused. */
export type IntegrityReason = 'no_digest' | 'bad_digest' | 'undecodable' | 'mismatch';
export const INTEGRITY_REASONS: readonly IntegrityReason[] = ['no_digest', 'bad_digest', 'undecodable', 'mismatch'];

/** A .jxl whose reconstruction cannot be trusted: never served, reported for repair. */
export class IntegrityError extends HearthError {
  constructor(
    readonly reason: IntegrityReason,
    message: string,
  ) {
    super('HEARTH_ERR_INTEGRITY', message);
  }
}

export function digestOf(data: Buffer, source: JxlDigest['source'] = 'transcode'): JxlDigest {
  return { v: 1, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length, source, at: new Date().toISOString() };
}

/** The digest as the .jxl object's metadata (every value a string, as every driver keeps it). */
export function digestMeta(d: JxlDigest): ObjectMeta {
  return { 'jpeg-sha256': d.sha256, 'jpeg-bytes': String(d.bytes), 'jpeg-source': d.source, 'jpeg-at': d.at };
}

function checked(value: unknown, where: string): JxlDigest {
  if (!digestValidator.is(value)) throw new IntegrityError('bad_digest', `${where}: ${digestValidator.problems(value).join('; ')}`);
  return value;
}

/**
 * The recorded digest of the .jxl at `key`: from its metadata (`meta`, where the caller
 * has it from `head`), else from a sidecar of a store from before; undefined when there
 * is none; IntegrityError('bad_digest') when it is damaged.
 */
export async function readDigest(store: ObjectStore, key: string, meta?: ObjectMeta): Promise<JxlDigest | undefined> {
  const m = meta ?? (await store.head(key))?.meta ?? {};
  if (m['jpeg-sha256'] !== undefined) {
    const bytes = Number(m['jpeg-bytes']);
    return checked(
      { v: 1, sha256: m['jpeg-sha256'], bytes: Number.isSafeInteger(bytes) ? bytes : m['jpeg-bytes'], source: m['jpeg-source'], at: m['jpeg-at'] },
      `${key}'s digest metadata`,
    );
  }
  let text: string;
  try {
    text = (await store.get(legacyDigestKey(key), 64 * 1024)).toString('utf8');
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new IntegrityError('bad_digest', `${legacyDigestKey(key)} is not JSON`);
  }
  return checked(value, legacyDigestKey(key));
}

/**
 * Stores `jxl` at `key` with its digest in one atomic, durable put (replacing what was
 * there), and only then removes a sidecar of a store from before, which would otherwise
 * be read in place of nothing.
 */
export async function storeWithDigest(store: ObjectStore, key: string, jxl: Buffer, digest: JxlDigest, keep: ObjectMeta = {}): Promise<void> {
  await store.put(key, jxl, { ...keep, ...digestMeta(digest) });
  await store.delete(legacyDigestKey(key));
}

/** Whether `data` is what `digest` describes. */
export function matches(data: Buffer, digest: JxlDigest): boolean {
  return data.length === digest.bytes && createHash('sha256').update(data).digest('hex') === digest.sha256;
}

/**
 * The JPEG the .jxl at `key` holds, only if it is byte for byte the original its digest
 * describes. Throws IntegrityError for anything wrong with the object; other errors (the
 * tool missing, I/O, ObjectNotFoundError) pass through as they are, since they say
 * nothing about the bytes.
 */
export async function reconstructChecked(store: ObjectStore, key: string, maxBytes?: number): Promise<Buffer> {
  const info = await store.head(key);
  if (!info) throw new ObjectNotFoundError(key);
  const digest = await readDigest(store, key, info.meta);
  if (!digest) throw new IntegrityError('no_digest', `${key} has no recorded digest of its original; not trusted (see hearth compress scrub --adopt)`);
  return reconstructVerified(key, await store.get(key, maxBytes), digest);
}

/** The JPEG `jxl` holds, checked against `digest`; `key` names it in errors. */
export async function reconstructVerified(key: string, jxl: Buffer, digest: JxlDigest): Promise<Buffer> {
  let jpeg: Buffer;
  try {
    jpeg = await reconstruct(jxl, digest.bytes);
  } catch (err) {
    if (isDecoderVerdict(err)) throw new IntegrityError('undecodable', `${key} does not decode to a JPEG: ${stderrText(err).trim().slice(0, 200)}`);
    throw err;
  }
  if (!matches(jpeg, digest)) {
    throw new IntegrityError(
      'mismatch',
      `${key} reconstructs ${jpeg.length} bytes that do not match the original's SHA-256 (${digest.bytes} bytes, ${digest.sha256.slice(0, 16)}…)`,
    );
  }
  return jpeg;
}
