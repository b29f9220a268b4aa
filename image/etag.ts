/** The validator every image answer carries, whoever serves it (the origin service, the store service). */
import { xxh64 } from '@node-rs/xxhash';

/** A strong ETag naming an image's bytes: xxHash64 of them (the store's own hash family), quoted. The same bytes have the same ETag in every colo. */
export const imageEtag = (body: Buffer): string => `"${xxh64(body).toString(16).padStart(16, '0')}"`;
