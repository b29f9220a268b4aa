/** Parsing and validating one datagram of hint wire format v1. */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_DATAGRAM_BYTES, MAX_PATHS_PER_HINT, SIG_CHARS, WIRE_VERSION, COLO_NAME, KEY_ID, FORMAT_CLASSES } from '@hearth/api-hook';
import { Validator } from '../common/index.js';

const common = {
  v: Type.Literal(WIRE_VERSION),
  ts: Type.Integer({ minimum: 0, maximum: 8.64e15 }),
  paths: Type.Array(Type.String({ minLength: 1, maxLength: MAX_DATAGRAM_BYTES }), { minItems: 1, maxItems: MAX_PATHS_PER_HINT }),
  /** The viewer's format class; absent (every sender from before classes): `jpeg`. */
  fmt: Type.Optional(Type.Union(FORMAT_CLASSES.map((f) => Type.Literal(f)))),
  kid: Type.Optional(Type.String({ pattern: KEY_ID })),
  sig: Type.Optional(Type.String({ pattern: `^[A-Za-z0-9_-]{${SIG_CHARS}}$` })),
};

/** Exactly one of `viewer` (an IP, parsed later) or `colo`. */
export const HintSchema = Type.Union([
  Type.Object({ ...common, viewer: Type.String({ minLength: 2, maxLength: 45 }) }, { additionalProperties: false }),
  Type.Object({ ...common, colo: Type.String({ pattern: COLO_NAME }) }, { additionalProperties: false }),
]);
export type Hint = Static<typeof HintSchema>;

export const hintValidator = new Validator(HintSchema, 'hint');

/** A parsed, schema-valid hint, or undefined for anything else (counted as `invalid`). */
export function parseHint(buf: Buffer): Hint | undefined {
  if (buf.length === 0 || buf.length > MAX_DATAGRAM_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  return hintValidator.is(value) ? value : undefined;
}
