/** Message schemas of the ingest path; every consumer validates what it reads. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator } from '../common/index.js';

/** Store-relative, no traversal, printable ASCII: a message can never point outside the store. */
export const STORE_PATH = '^(?!.*(?:^|/)\\.{1,2}(?:/|$))(?!.*//)/[A-Za-z0-9_./-]{1,512}$';
export const IMAGE_ID = '^[0-9]{1,19}$';

export const UploadedSchema = Type.Object(
  {
    id: Type.String({ pattern: IMAGE_ID, description: 'image id (digits); the key of every message about it' }),
    source: Type.String({ pattern: STORE_PATH, description: 'the original, relative to the store root' }),
    ts: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type Uploaded = Static<typeof UploadedSchema>;
export const uploadedValidator = new Validator(UploadedSchema, 'hearth.images.uploaded message');

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

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  reason: string;
  error: string;
  /** The message as received, base64, cut at 4 KiB. */
  value: string;
  ts: number;
}
