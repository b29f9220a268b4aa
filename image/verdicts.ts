/**
 * What the identity tier decided about an image, kept in the store beside its original
 * (`/originals/<dir>/<id>.identity.json`, never a served path) so that every reader of
 * the store (the origin above all) answers the same way without asking anyone:
 *
 * - `duplicate`: the upload's bytes are those of image `of`; its original is a hard link
 *   to `of`'s and its sizes are `of`'s sizes. Nothing of it was resized.
 * - `quarantined`: its PDQ hash matched the blocklist. Nothing of it is ever served
 *   (451) or resized; its original is moved out of the served paths, to
 *   `/quarantine/<dir>/<id>.jpg`, and kept there for review.
 * - `deleted`: taken back by its owner or a takedown (`hearth delete`): every object of
 *   it is gone and every path of it answers 410 for good. The verdict is what stays:
 *   it is written before anything is removed, so no reader ever finds half a photo and
 *   serves it, and no writer (the origin's sizes made on the fly, the resize and
 *   perceptual tiers) can bring one back (image/takedown.ts).
 *
 * An image with no verdict file is an ordinary image (accepted, or from before the tier).
 */
import { Type, type Static } from '@sinclair/typebox';
import { HearthError, IMAGE_ID as ID, Validator } from '../common/index.js';
import { ObjectNotFoundError, UnreadableObjectError, type ObjectStore } from '../store/index.js';
import { originalPath } from './store.js';

/** A verdict is a line of JSON; anything larger is damage, not a verdict. */
const MAX_VERDICT_BYTES = 64 * 1024;

export const VerdictSchema = Type.Union([
  Type.Object({ v: Type.Literal(1), verdict: Type.Literal('duplicate'), of: Type.String({ pattern: ID }), at: Type.String() }, { additionalProperties: false }),
  Type.Object(
    {
      v: Type.Literal(1),
      verdict: Type.Literal('quarantined'),
      listed: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      distance: Type.Integer({ minimum: 0, maximum: 256 }),
      at: Type.String(),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      v: Type.Literal(1),
      verdict: Type.Literal('deleted'),
      at: Type.String(),
      by: Type.String({ maxLength: 200, description: 'who asked: a person, a system, a takedown reference' }),
    },
    { additionalProperties: false },
  ),
]);
export type Verdict = Static<typeof VerdictSchema>;
const validator = new Validator(VerdictSchema, 'identity verdict');

/** A verdict file that cannot be read as one: whoever reads it must refuse to serve, not guess. */
export class BadVerdictError extends HearthError {
  constructor(message: string) {
    super('HEARTH_ERR_INVALID', message);
  }
}

/** The store path of an image's verdict. */
export const verdictPath = (id: string): string => originalPath(id).replace(/\.jpg$/, '.identity.json');

/** Where a quarantined original is kept: no server serves this path, whatever its config. */
export const quarantinePath = (id: string): string => originalPath(id).replace(/^\/originals\//, '/quarantine/');

/** The verdict on `id`, or undefined when it has none. */
export async function readVerdict(store: ObjectStore, id: string): Promise<Verdict | undefined> {
  let text: string;
  try {
    text = (await store.get(verdictPath(id), MAX_VERDICT_BYTES)).toString('utf8');
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    if (err instanceof UnreadableObjectError) throw new BadVerdictError(`${verdictPath(id)}: ${err.message}`);
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadVerdictError(`${verdictPath(id)}: not JSON`);
  }
  if (!validator.is(value)) throw new BadVerdictError(`${verdictPath(id)}: ${validator.problems(value).join('; ')}`);
  return value;
}

/** Written atomically and durably before the verdict is announced: a reader sees none or all of it. */
export async function writeVerdict(store: ObjectStore, id: string, verdict: Verdict): Promise<void> {
  await store.put(verdictPath(id), Buffer.from(`${JSON.stringify(verdict)}\n`));
}
