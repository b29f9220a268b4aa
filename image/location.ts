/**
 * An original as served: the stored JPEG with its location metadata taken out and
 * nothing else changed. The image data (every scan, every table) is copied byte for byte;
 * only metadata segments before the first scan are edited:
 *
 * - Exif (APP1 `Exif\0\0`): the GPS IFD is zeroed, and its entry in IFD0 removed, so no
 *   reader finds the coordinates, nor the bytes that held them. Every other tag stays
 *   (camera, date, exposure, orientation, copyright).
 * - XMP (APP1, standard and extended) and IPTC (APP13, Photoshop's resource block): a
 *   segment that names a location (GPS coordinates, city, state, country, sublocation)
 *   is dropped whole; others stay.
 *
 * Written here rather than with a library: no maintained JavaScript library edits Exif in
 * place (they re-serialise it, or need a re-encode, which is what this must not do), and
 * exiftool, which does, is a Perl process per request.
 */

import { APP1, APP13, MetadataError, jpegSegments, payload } from './jpeg-segments.js';
import { isHeif, itemBytes, metadataItems, putItemBytes, readHeif } from './heif.js';

export { MetadataError };

const EXIF = Buffer.from('Exif\0\0', 'latin1');
const XMP = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');
const XMP_EXTENDED = Buffer.from('http://ns.adobe.com/xmp/extension/\0', 'latin1');
const GPS_IFD_TAG = 0x8825;
/** XMP properties that place a photo. */
const XMP_LOCATION = /exif:GPS|photoshop:(?:City|State|Country)|Iptc4xmpCore:(?:Location|CountryCode)|Iptc4xmpExt:Location|LocationCreated|LocationShown/;
/** IPTC IIM record 2 datasets that place a photo: 26 location code, 27 location name, 90 city, 92 sublocation, 95 province/state, 100 country code, 101 country name. */
const IPTC_LOCATION = new Set([26, 27, 90, 92, 95, 100, 101]);

/** `jpeg` without location metadata; the same buffer when it has none. Throws MetadataError for a JPEG whose metadata does not parse. */
export function withoutLocation(jpeg: Buffer): Buffer {
  const { segments, rest } = jpegSegments(jpeg);
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  let changed = false;
  for (const s of segments) {
    const segment = jpeg.subarray(s.start, s.end);
    const body = payload(jpeg, s);
    if (s.marker === APP1 && startsWith(body, EXIF)) {
      const edited = exifWithoutGps(segment, 4 + EXIF.length);
      changed ||= edited !== segment;
      parts.push(edited);
    } else if (
      (s.marker === APP1 && (startsWith(body, XMP) || startsWith(body, XMP_EXTENDED)) && XMP_LOCATION.test(body.toString('utf8'))) ||
      (s.marker === APP13 && iptcPlaces(body))
    ) {
      changed = true;
    } else {
      parts.push(segment);
    }
  }
  parts.push(jpeg.subarray(rest));
  return changed ? Buffer.concat(parts) : jpeg;
}

const startsWith = (b: Buffer, prefix: Buffer): boolean => b.length >= prefix.length && b.subarray(0, prefix.length).equals(prefix);

/** Whether a Photoshop resource block holds an IPTC dataset that places the photo. */
function iptcPlaces(body: Buffer): boolean {
  for (let i = body.indexOf(0x1c); i >= 0 && i + 2 < body.length; i = body.indexOf(0x1c, i + 1)) {
    if (body[i + 1] === 2 && IPTC_LOCATION.has(body[i + 2] as number)) return true;
  }
  return false;
}

/** Sizes of TIFF field types, by type number. */
const TYPE_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

/** An Exif block (its TIFF header at `tiff`) with its GPS IFD zeroed and unlinked, the same length; the same block when it has none. */
function exifWithoutGps(segment: Buffer, tiff: number): Buffer {
  const out = Buffer.from(segment);
  const order = out.toString('latin1', tiff, tiff + 2);
  if (order !== 'II' && order !== 'MM') throw new MetadataError('Exif: no byte order');
  const le = order === 'II';
  const u16 = (o: number): number => {
    if (tiff + o + 2 > out.length) throw new MetadataError('Exif: an offset past the segment');
    return le ? out.readUInt16LE(tiff + o) : out.readUInt16BE(tiff + o);
  };
  const u32 = (o: number): number => {
    if (tiff + o + 4 > out.length) throw new MetadataError('Exif: an offset past the segment');
    return le ? out.readUInt32LE(tiff + o) : out.readUInt32BE(tiff + o);
  };
  const put32 = (o: number, v: number): void => void (le ? out.writeUInt32LE(v, tiff + o) : out.writeUInt32BE(v, tiff + o));
  const zero = (o: number, n: number): void => {
    if (tiff + o + n > out.length) throw new MetadataError('Exif: a value past the segment');
    out.fill(0, tiff + o, tiff + o + n);
  };
  const ifd0 = u32(4);
  const count = u16(ifd0);
  let gpsEntry = -1;
  for (let i = 0; i < count; i++) if (u16(ifd0 + 2 + i * 12) === GPS_IFD_TAG) gpsEntry = i;
  if (gpsEntry < 0) return segment;
  const gps = u32(ifd0 + 2 + gpsEntry * 12 + 8);
  // Every GPS value kept out of line, then the GPS IFD itself.
  const gpsCount = u16(gps);
  for (let i = 0; i < gpsCount; i++) {
    const e = gps + 2 + i * 12;
    const bytes = (TYPE_BYTES[u16(e + 2)] ?? 1) * u32(e + 4);
    if (bytes > 4) zero(u32(e + 8), bytes);
  }
  zero(gps, 2 + gpsCount * 12 + 4);
  // IFD0 without the GPS entry: the later entries and the next-IFD offset move up one entry.
  const next = u32(ifd0 + 2 + count * 12);
  const from = tiff + ifd0 + 2 + (gpsEntry + 1) * 12;
  out.copy(out, from - 12, from, tiff + ifd0 + 2 + count * 12);
  void (le ? out.writeUInt16LE(count - 1, tiff + ifd0) : out.writeUInt16BE(count - 1, tiff + ifd0));
  put32(ifd0 + 2 + (count - 1) * 12, next);
  zero(ifd0 + 2 + (count - 1) * 12 + 4, 12);
  return out;
}

/** The object metadata member that carries a photo's location policy, set at upload: `keep` serves the original as stored. */
export const LOCATION_META = 'location';

/** The policy members of an original's metadata, to carry over to what replaces it (its JPEG XL). */
export const locationPolicy = (meta: Readonly<Record<string, string>>): Record<string, string> =>
  meta[LOCATION_META] === 'keep' ? { [LOCATION_META]: 'keep' } : {};

/** An empty XMP packet: what an XMP item that places the photo is overwritten with, padded to its length. */
const EMPTY_XMP = '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/>';
const XMP_END = '<?xpacket end="w"?>';

/**
 * A HEIF original (a phone's HEIC) without its location, edited in place as a JPEG is:
 * every box and every image byte stays where it is; the Exif items lose their GPS IFD
 * as above, and an XMP item that places the photo becomes an empty packet of its own
 * length. The same buffer when there is nothing to take out.
 */
export function heifWithoutLocation(heif: Buffer): Buffer {
  const { exif, xmp } = metadataItems(readHeif(heif));
  let out: Buffer | undefined;
  for (const item of exif) {
    const block = itemBytes(heif, item);
    if (block.length < 4) throw new MetadataError('HEIF: an Exif item shorter than its header offset');
    const edited = exifWithoutGps(block, 4 + block.readUInt32BE(0));
    if (edited === block) continue;
    out ??= Buffer.from(heif);
    putItemBytes(out, item, edited);
  }
  for (const item of xmp) {
    const packet = itemBytes(heif, item);
    if (!XMP_LOCATION.test(packet.toString('utf8'))) continue;
    const room = packet.length - EMPTY_XMP.length - XMP_END.length;
    const blank = room >= 0 ? EMPTY_XMP + ' '.repeat(room) + XMP_END : ' '.repeat(packet.length);
    out ??= Buffer.from(heif);
    putItemBytes(out, item, Buffer.from(blank, 'latin1'));
  }
  return out ?? heif;
}

/** What to serve of an original stored with `meta`: as stored when its policy keeps the location, else without it (a JPEG or a HEIF, by content). */
export const servedOriginal = (original: Buffer, meta: Readonly<Record<string, string>>): Buffer =>
  meta[LOCATION_META] === 'keep' ? original : isHeif(original) ? heifWithoutLocation(original) : withoutLocation(original);
