/**
 * "Is this a whole JPEG?", asked one way by every tier that takes a file in (upload,
 * identity, the resize backend): by content, never by name, with one bound on the pixels
 * any of them decodes.
 */
import sharp, { type Metadata } from 'sharp';

/** Decoded pixels at most (sharp's own default is 268 M): a decompression bomb stops here in every tier. */
export const MAX_PIXELS = 100_000_000;

/** sharp's options for every decode of a file from outside: a warning is a failure, and the pixel bound. */
export const DECODE_OPTIONS = { failOn: 'error', limitInputPixels: MAX_PIXELS } as const;

/** What a file is instead of a whole JPEG: `unreadable` (no image sharp knows, or past the bound), `not_jpeg`, `damaged`. */
export class NotAWholeJpeg extends Error {
  constructor(
    readonly kind: 'unreadable' | 'not_jpeg' | 'damaged',
    message: string,
  ) {
    super(message);
    this.name = 'NotAWholeJpeg';
  }
}

/**
 * The JPEG's metadata, or NotAWholeJpeg saying what it is instead. `whole`: every scan
 * decoded too, so a truncated or damaged file fails here rather than in a later tier
 * (a full decode: what only the door of the pipeline pays).
 */
export async function jpegMetadata(data: Buffer, o: { whole?: boolean } = {}): Promise<Metadata> {
  let meta: Metadata;
  try {
    meta = await sharp(data, DECODE_OPTIONS).metadata();
  } catch (err) {
    throw new NotAWholeJpeg('unreadable', `not an image (${(err as Error).message})`);
  }
  if (meta.format !== 'jpeg') throw new NotAWholeJpeg('not_jpeg', `not a JPEG (its content is ${meta.format ?? 'unknown'})`);
  if (o.whole) {
    try {
      await sharp(data, DECODE_OPTIONS).raw().toBuffer();
    } catch (err) {
      throw new NotAWholeJpeg('damaged', `a damaged JPEG (${(err as Error).message})`);
    }
  }
  return meta;
}
