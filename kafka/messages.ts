/** Message schemas of the ingest path; every consumer validates what it reads. */
import { Type, type Static } from '@sinclair/typebox';
import { IMAGE_ID, Validator } from '../common/index.js';

export { IMAGE_ID };

/** Store-relative, no traversal, printable ASCII: a message can never point outside the store. */
export const STORE_PATH = '^(?!.*(?:^|/)\\.{1,2}(?:/|$))(?!.*//)/[A-Za-z0-9_./-]{1,512}$';

export const UploadedSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID, description: 'image id: decimal digits, no leading zero, at most 19; the key of every message about it' }),
    source: Type.String({ pattern: STORE_PATH, description: 'the original, relative to the store root' }),
    ts: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type Uploaded = Static<typeof UploadedSchema>;
export const uploadedValidator = new Validator(UploadedSchema, 'hearth.images.uploaded message');

/** An upload the identity tier let through (same fields as the upload): what the resize tier works from. */
export const acceptedValidator = new Validator(UploadedSchema, 'hearth.images.accepted message');

const PDQ_HEX = '^[0-9a-f]{64}$';

export const QuarantinedSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID }),
    source: Type.String({ pattern: STORE_PATH, description: 'the original, kept (never served) for whoever reviews it' }),
    listed: Type.String({ pattern: PDQ_HEX, description: 'the blocklisted PDQ hash it matched' }),
    distance: Type.Integer({ minimum: 0, maximum: 256, description: 'Hamming distance of its PDQ to the listed one' }),
    ts: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type Quarantined = Static<typeof QuarantinedSchema>;
export const quarantinedValidator = new Validator(QuarantinedSchema, 'hearth.images.quarantined message');

export const MatchedSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID, description: 'the new upload' }),
    kind: Type.Union([Type.Literal('duplicate'), Type.Literal('near_duplicate')], {
      description: "`duplicate`: byte-identical, served from `of`'s files; `near_duplicate`: PDQ within the near threshold, stored and resized as usual",
    }),
    of: Type.String({ pattern: IMAGE_ID, description: 'the stored image it matched' }),
    distance: Type.Integer({ minimum: 0, maximum: 256, description: 'PDQ Hamming distance (0 for a duplicate)' }),
    bytesSaved: Type.Integer({ minimum: 0, description: "bytes not stored because of it (a duplicate's original and sizes; 0 for a near-duplicate)" }),
    ts: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type Matched = Static<typeof MatchedSchema>;
export const matchedValidator = new Validator(MatchedSchema, 'hearth.images.matched message');

export const ResizedSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID }),
    size: Type.String({ pattern: '^[a-z]{1,3}$' }),
    path: Type.String({ pattern: STORE_PATH }),
    bytes: Type.Integer({ minimum: 1 }),
    width: Type.Integer({ minimum: 1 }),
    height: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type Resized = Static<typeof ResizedSchema>;
export const resizedValidator = new Validator(ResizedSchema, 'hearth.images.resized message');

export const CompressedSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID }),
    size: Type.String({ pattern: '^[a-z]{1,3}$' }),
    path: Type.String({ pattern: STORE_PATH }),
    bytesBefore: Type.Integer({ minimum: 1, description: 'the resize as the resize tier wrote it' }),
    bytesAfter: Type.Integer({ minimum: 1, description: 'what is stored now (the same when nothing smaller kept the target)' }),
    quality: Type.Integer({ minimum: 0, maximum: 100, description: 'JPEG quality chosen (0: kept as it was)' }),
    score: Type.Number({ description: 'SSIM of the stored file against the resize' }),
  },
  { additionalProperties: false },
);
export type Compressed = Static<typeof CompressedSchema>;
export const compressedValidator = new Validator(CompressedSchema, 'hearth.images.compressed message');

export const TakedownSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID }),
    action: Type.Union([Type.Literal('delete'), Type.Literal('quarantine'), Type.Literal('refresh')], {
      description:
        '`delete`: the photo is gone for good (410); `quarantine`: the blocklist caught a photo already accepted (451 until lifted); `refresh`: a size stored before the perceptual pass ran at write time was recompressed in place, and the caches must fetch it again (purged, still served)',
    }),
    by: Type.String({ maxLength: 200, description: 'who asked: a person, a system, a takedown reference, or `blocklist`' }),
    secrets: Type.Optional(
      Type.Object(
        { size: Type.String({ pattern: '^[0-9a-f]{16}$' }), original: Type.String({ pattern: '^[0-9a-f]{16}$' }) },
        {
          additionalProperties: false,
          description: "the photo's secrets, which its served paths carry (absent: a photo from before secrets); for `refresh` after a rotation, the old ones",
        },
      ),
    ),
    ts: Type.Integer({ minimum: 0, description: 'when the store stopped holding and serving the photo (epoch ms): the moment every purge is measured from' }),
  },
  { additionalProperties: false },
);
export type Takedown = Static<typeof TakedownSchema>;
export const takedownValidator = new Validator(TakedownSchema, 'hearth.images.takedown message');

export const DeleteRequestSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID }),
    by: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'who asks: a person, a system, a takedown reference (kept with the verdict and the takedown)',
    }),
    ts: Type.Optional(Type.Integer({ minimum: 0, description: 'when it was asked (epoch ms)' })),
  },
  { additionalProperties: false },
);
export type DeleteRequest = Static<typeof DeleteRequestSchema>;
export const deleteRequestValidator = new Validator(DeleteRequestSchema, 'hearth.images.delete message');

export const PurgedSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID }),
    colo: Type.String({ maxLength: 32 }),
    pass: Type.Union([Type.Literal(1), Type.Literal(2)], {
      description: "1: at once; 2: after the longest a cache's upstream fetch may take, for a fetch that was in flight at the takedown",
    }),
    nodes: Type.Integer({ minimum: 1, description: 'cache nodes of the colo, every one purged' }),
    cached: Type.Integer({ minimum: 0, description: 'paths the purge found cached (and removed), over all nodes' }),
    ts: Type.Integer({ minimum: 0, description: 'when the last node answered (epoch ms)' }),
    takedownTs: Type.Integer({ minimum: 0, description: 'the takedown it answers' }),
  },
  { additionalProperties: false },
);
export type Purged = Static<typeof PurgedSchema>;
export const purgedValidator = new Validator(PurgedSchema, 'hearth.images.purged message');

/**
 * Why a message went to the dead-letter topic, by the topic it came from: one list per
 * topic, so dashboards and alerts can name every reason, and a handler cannot invent one.
 */
export const DEAD_REASONS = {
  'hearth.images.uploaded': ['invalid_message', 'missing_source', 'irregular_source', 'oversized_source', 'corrupt_source', 'handler_error'],
  'hearth.images.accepted': ['invalid_message', 'missing_source', 'irregular_source', 'oversized_source', 'corrupt_source', 'handler_error'],
  'hearth.images.resized': ['invalid_message', 'missing_file', 'irregular_file', 'oversized_file', 'corrupt_file', 'handler_error'],
  'hearth.images.takedown': ['invalid_message', 'handler_error'],
  'hearth.images.delete': ['invalid_message', 'handler_error'],
} as const;
export type DeadTopic = keyof typeof DEAD_REASONS;
export type DeadReason<T extends DeadTopic = DeadTopic> = (typeof DEAD_REASONS)[T][number];

export const DeadLetterSchema = Type.Object(
  {
    topic: Type.String({ description: 'where the message came from' }),
    partition: Type.Integer({ minimum: 0 }),
    offset: Type.String({ pattern: '^[0-9]+$' }),
    key: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
    reason: Type.Union(
      Object.values(DEAD_REASONS)
        .flat()
        .filter((r, i, a) => a.indexOf(r) === i)
        .map((r) => Type.Literal(r)),
    ),
    error: Type.String({ maxLength: 500 }),
    value: Type.String({ description: 'the message as received, base64, cut at 4 KiB' }),
    ts: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type DeadLetter = Static<typeof DeadLetterSchema>;
export const deadLetterValidator = new Validator(DeadLetterSchema, 'hearth.images.dead message');

/** The schema of every topic's messages: what producers are held to and consumers check. */
export const TOPIC_SCHEMAS = {
  'hearth.images.uploaded': uploadedValidator,
  'hearth.images.accepted': acceptedValidator,
  'hearth.images.quarantined': quarantinedValidator,
  'hearth.images.matched': matchedValidator,
  'hearth.images.resized': resizedValidator,
  'hearth.images.compressed': compressedValidator,
  'hearth.images.dead': deadLetterValidator,
  'hearth.images.takedown': takedownValidator,
  'hearth.images.delete': deleteRequestValidator,
  'hearth.images.purged': purgedValidator,
} as const;
export type Topic = keyof typeof TOPIC_SCHEMAS;
export type MessageOf<T extends Topic> = (typeof TOPIC_SCHEMAS)[T] extends Validator<infer S> ? Static<S> : never;
