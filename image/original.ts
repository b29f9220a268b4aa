/**
 * "Is this an original Hearth takes, and what does a decoder read of it?", asked one way
 * by every tier that takes a file in (upload, identity, the resize backend): by content,
 * never by name, with one bound on the pixels any of them decodes.
 *
 * A JPEG is read as it is. A HEIF (a phone's HEIC; an AVIF too) is decoded by libheif's
 * own tool, Debian's heif-convert (libde265 for HEVC): sharp's bundled libheif reads a
 * HEIC's metadata but has no HEVC decoder. heif-convert writes a PNG (16-bit when the
 * photo has more than 8 bits) that keeps the ICC profile and the Exif, with the
 * container's rotation and mirroring applied, so every later step reads it as it reads
 * a JPEG, but for the orientation (`upright`).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { inToolTemp, runTied, sweepToolTemps } from '../common/index.js';
import { hasGainMap, heifKind, isHeif, readHeif } from './heif.js';

/** Decoded pixels at most (sharp's own default is 268 M): a decompression bomb stops here in every tier. */
export const MAX_PIXELS = 100_000_000;

/** sharp's options for every decode of a file from outside: a warning is a failure, and the pixel bound. */
export const DECODE_OPTIONS = { failOn: 'error', limitInputPixels: MAX_PIXELS } as const;

/** What an original may be: a camera's JPEG, a phone's HEIC, an AVIF. */
export const ORIGINAL_FORMATS = ['jpeg', 'heic', 'avif'] as const;
export type OriginalFormat = (typeof ORIGINAL_FORMATS)[number];

/** The media type of each, for an original served as uploaded. */
export const ORIGINAL_MEDIA_TYPES: Readonly<Record<OriginalFormat, string>> = { jpeg: 'image/jpeg', heic: 'image/heic', avif: 'image/avif' };

const HEIF_TEMP_PREFIX = 'hearth-heif-';

/** Removes the HEIF decodes' temp directories that processes killed mid-decode left; how many. Each tier that decodes calls it at start. */
export const sweepDecodeTemps = (): Promise<number> => sweepToolTemps(HEIF_TEMP_PREFIX);

/** An original's format by its first bytes (no decode): a HEIF's kind, else JPEG (what upload let in). */
export const originalFormat = (data: Buffer): OriginalFormat => (isHeif(data) ? heifKind(data) : 'jpeg');

/** The longest a HEIF decode may take: far beyond a 48 MP photo's ~3 s, short of a stuck tier. */
const HEIF_DECODE_TIMEOUT_MS = 120_000;

/**
 * Why a file is no original Hearth takes: `unreadable` (no image sharp knows),
 * `unsupported` (an image, but not JPEG or HEIF), `damaged` (truncated, or its data does
 * not decode), `empty` (a HEIF with no image in it), `sequence` (a HEIF of several images
 * or a timed sequence: one photo per upload), `too_large` (past MAX_PIXELS).
 */
export class UnusableImage extends Error {
  constructor(
    readonly kind: 'unreadable' | 'unsupported' | 'damaged' | 'empty' | 'sequence' | 'too_large',
    message: string,
  ) {
    super(message);
    this.name = 'UnusableImage';
  }
}

/** An original as a decoder takes it. */
export interface DecodedOriginal {
  format: OriginalFormat;
  /** What sharp decodes: the JPEG itself, or the PNG libheif made of a HEIF. */
  pixels: Buffer;
  /** sharp's metadata of `pixels` (dimensions as stored, ICC, Exif). */
  meta: Metadata;
  /**
   * The pixels are as seen: libheif applied the HEIF's rotation and mirroring, and the
   * Exif orientation it may still carry is informative only (ISO/IEC 23008-12): applied
   * again it would turn the photo twice. A JPEG's Exif orientation is for the decoder.
   */
  upright: boolean;
  /** It carries an HDR gain map (an UltraHDR JPEG's, Apple's auxiliary image, an ISO 21496-1 tone map); no size keeps it. */
  gainMap: boolean;
}

/**
 * The original's format and decodable pixels, or UnusableImage saying what it is
 * instead. `whole`: a JPEG's every scan is decoded too, so a truncated or damaged file
 * fails here rather than in a later tier (a full decode: what only the door of the
 * pipeline pays). A HEIF is always decoded whole.
 */
export async function decodeOriginal(data: Buffer, o: { whole?: boolean } = {}): Promise<DecodedOriginal> {
  if (isHeif(data)) return decodeHeif(data);
  let meta: Metadata;
  try {
    meta = await sharp(data, DECODE_OPTIONS).metadata();
  } catch (err) {
    throw pastTheBound(err) ?? new UnusableImage('unreadable', `not an image (${(err as Error).message})`);
  }
  if (meta.format !== 'jpeg') throw new UnusableImage('unsupported', `neither a JPEG nor a HEIF (its content is ${meta.format ?? 'unknown'})`);
  if (o.whole) {
    try {
      await sharp(data, DECODE_OPTIONS).raw().toBuffer();
    } catch (err) {
      throw new UnusableImage('damaged', `a damaged JPEG (${(err as Error).message})`);
    }
  }
  return { format: 'jpeg', pixels: data, meta, gainMap: meta.gainMap !== undefined, upright: false };
}

/** sharp's refusal of a file that declares more than MAX_PIXELS, said as such; undefined for any other error. */
function pastTheBound(err: unknown): UnusableImage | undefined {
  const m = /exceeds pixel limit/i.test((err as Error).message);
  return m ? new UnusableImage('too_large', `a decompression bomb: it declares more than ${MAX_PIXELS} pixels`) : undefined;
}

async function decodeHeif(data: Buffer): Promise<DecodedOriginal> {
  let file;
  try {
    file = readHeif(data);
  } catch (err) {
    throw new UnusableImage('damaged', `a damaged HEIF (${(err as Error).message})`);
  }
  if (file.sequence) throw new UnusableImage('sequence', 'a HEIF image sequence: upload one photo');
  if (file.primary === undefined || !file.items.has(file.primary)) throw new UnusableImage('empty', 'a HEIF with no image in it');
  let head: Metadata;
  try {
    // libheif's own reading of the container, without decoding: how many photos, how large.
    head = await sharp(data, DECODE_OPTIONS).metadata();
  } catch (err) {
    throw pastTheBound(err) ?? new UnusableImage('damaged', `a damaged HEIF (${(err as Error).message})`);
  }
  if ((head.pages ?? 1) > 1) throw new UnusableImage('sequence', `a HEIF of ${head.pages} images: upload one photo`);
  const png = await inToolTemp(HEIF_TEMP_PREFIX, async (dir) => {
    await writeFile(join(dir, 'in.heic'), data);
    try {
      await runTied('heif-convert', ['--quiet', join(dir, 'in.heic'), join(dir, 'out.png')], { timeout: HEIF_DECODE_TIMEOUT_MS, maxBuffer: 1 << 20 });
    } catch (err) {
      const why = String((err as { stderr?: string }).stderr || (err as Error).message).trim();
      throw new UnusableImage('damaged', `a HEIF libheif cannot decode (${why.slice(0, 200)})`);
    }
    return readFile(join(dir, 'out.png'));
  });
  let meta: Metadata;
  try {
    meta = await sharp(png, DECODE_OPTIONS).metadata();
  } catch (err) {
    throw new UnusableImage('damaged', `a HEIF whose decode does not read back (${(err as Error).message})`);
  }
  return { format: heifKind(data), pixels: png, meta, gainMap: hasGainMap(file), upright: true };
}
