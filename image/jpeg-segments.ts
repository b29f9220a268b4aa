/** A JPEG's segments before its first scan: where metadata lives (the scans are never touched). */

/** Why a JPEG's header segments could not be read. */
export class MetadataError extends Error {}

export interface Segment {
  /** The marker's second byte (0xe1: APP1, 0xe2: APP2, …). */
  marker: number;
  /** Offsets of the whole segment, marker included. */
  start: number;
  end: number;
}

export const APP1 = 0xe1;
export const APP2 = 0xe2;
export const APP13 = 0xed;
const SOI = 0xd8;
const SOS = 0xda;
const EOI = 0xd9;

/** The segments from SOI to the first scan, and where the rest (the scans, from SOS) begins. */
export function jpegSegments(jpeg: Buffer): { segments: Segment[]; rest: number } {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== SOI) throw new MetadataError('not a JPEG (no SOI)');
  const segments: Segment[] = [];
  let at = 2;
  for (;;) {
    if (at + 4 > jpeg.length || jpeg[at] !== 0xff) throw new MetadataError(`no marker at byte ${at}`);
    const marker = jpeg[at + 1] as number;
    // A fill byte before a marker.
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === SOS || marker === EOI) return { segments, rest: at };
    const end = at + 2 + jpeg.readUInt16BE(at + 2);
    if (end < at + 4 || end > jpeg.length) throw new MetadataError(`segment 0x${marker.toString(16)} at byte ${at} runs past the end`);
    segments.push({ marker, start: at, end });
    at = end;
  }
}

/** A segment's payload (after marker and length). */
export const payload = (jpeg: Buffer, s: Segment): Buffer => jpeg.subarray(s.start + 4, s.end);

const ICC = Buffer.from('ICC_PROFILE\0', 'latin1');
const EXIF = Buffer.from('Exif\0\0', 'latin1');

/**
 * `to` with the colour profile and Exif segments of `from` (and none of its own): a
 * re-encode of a resize (the perceptual pass) keeps what the resize carried, byte for byte.
 */
export function withProfileAndExifOf(from: Buffer, to: Buffer): Buffer {
  const carried = (jpeg: Buffer, s: Segment): boolean =>
    (s.marker === APP2 && payload(jpeg, s).subarray(0, ICC.length).equals(ICC)) ||
    (s.marker === APP1 && payload(jpeg, s).subarray(0, EXIF.length).equals(EXIF));
  const src = jpegSegments(from).segments.filter((s) => carried(from, s));
  const dst = jpegSegments(to);
  if (src.length === 0 && !dst.segments.some((s) => carried(to, s))) return to;
  return Buffer.concat([
    to.subarray(0, 2),
    ...src.map((s) => from.subarray(s.start, s.end)),
    ...dst.segments.filter((s) => !carried(to, s)).map((s) => to.subarray(s.start, s.end)),
    to.subarray(dst.rest),
  ]);
}
