/**
 * The digest of an original kept only as JPEG XL. "A corrupted source image cannot be
 * recovered": once the original is gone, a .jxl with a flipped bit can still decode, to
 * a JPEG that differs from the upload (issue 9 found 11 in 200 single-bit flips). So the
 * lossless tier records the original's SHA-256 and length in a sidecar, `<id>.jxl.digest`,
 * durably, before the original is removed, and every reconstruction is checked against
 * it. A .jxl without a digest is never served: `hearth compress scrub --adopt` is the
 * explicit, logged way to take one in.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { HearthError, Validator, writeAtomic } from '../common/index.js';
import { reconstruct, stderrText } from './jxl.js';

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

export const digestFile = (jxl: string): string => `${jxl}.digest`;

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

/** Writes the sidecar atomically and durably (file and directory fsynced). */
export async function writeDigest(jxl: string, digest: JxlDigest): Promise<void> {
  await writeAtomic(digestFile(jxl), Buffer.from(`${JSON.stringify(digest)}\n`));
}

/** The recorded digest; undefined when there is none; IntegrityError('bad_digest') when it is damaged. */
export async function readDigest(jxl: string): Promise<JxlDigest | undefined> {
  let text: string;
  try {
    text = await readFile(digestFile(jxl), 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new IntegrityError('bad_digest', `${digestFile(jxl)} is not JSON`);
  }
  if (!digestValidator.is(value)) throw new IntegrityError('bad_digest', `${digestFile(jxl)}: ${digestValidator.problems(value).join('; ')}`);
  return value;
}

/** Whether `data` is what `digest` describes. */
export function matches(data: Buffer, digest: JxlDigest): boolean {
  return data.length === digest.bytes && createHash('sha256').update(data).digest('hex') === digest.sha256;
}

/**
 * The JPEG a .jxl holds, only if it is byte for byte the original the digest describes.
 * Throws IntegrityError for anything wrong with the file; other errors (the tool missing,
 * I/O) pass through as they are, since they say nothing about the file.
 */
export async function reconstructChecked(jxl: string): Promise<Buffer> {
  const digest = await readDigest(jxl);
  if (!digest) throw new IntegrityError('no_digest', `${jxl} has no recorded digest of its original; not trusted (see hearth compress scrub --adopt)`);
  let jpeg: Buffer;
  try {
    jpeg = await reconstruct(jxl);
  } catch (err) {
    // Exit 1 is the decoder's verdict on the file (hearth-jxl and djxl alike); 2, 126, 127 or a signal are the tool's own trouble.
    if ((err as { code?: unknown }).code === 1) throw new IntegrityError('undecodable', `${jxl} does not decode to a JPEG: ${stderrText(err).trim().slice(0, 200)}`);
    throw err;
  }
  if (!matches(jpeg, digest)) {
    throw new IntegrityError('mismatch', `${jxl} reconstructs ${jpeg.length} bytes that do not match the original's SHA-256 (${digest.bytes} bytes, ${digest.sha256.slice(0, 16)}…)`);
  }
  return jpeg;
}
