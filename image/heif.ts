/**
 * HEIF containers (a phone's HEIC, and AVIF): the few facts Hearth needs from their
 * boxes (ISO/IEC 23008-12 over ISO BMFF). Where the Exif and XMP items' bytes lie in
 * the file, so that location.ts can take the location out in place, as it does in a
 * JPEG; whether the photo carries an HDR gain map (Apple's auxiliary image, or an
 * ISO 21496-1 `tmap` item); and whether it holds a timed sequence (a `moov` track).
 *
 * Read here rather than with a library: libheif (through sharp or its tools) decodes and
 * counts images but does not say where an item's bytes are, and exiftool is a Perl
 * process per request. The pixels are always libheif's (original.ts).
 */
import { MetadataError } from './jpeg-segments.js';

/** ftyp brands of a HEIF still image or collection (HEVC, AVIF and the generic MIAF/HEIF ones). */
const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'mif2', 'msf1', 'avif', 'avis']);

/** Apple's auxiliary type for a gain map ("urn:com:apple:photo:2020:aux:hdrgainmap", and later years). */
const APPLE_GAIN_MAP = /^urn:com:apple:photo:\d{4}:aux:hdrgainmap$/;

interface Box {
  type: string;
  start: number;
  /** Where the box's content begins (after size and type; a full box's version and flags are content). */
  body: number;
  end: number;
}

/** A run of an item's bytes, as file offsets. */
export interface Extent {
  offset: number;
  length: number;
}

export interface HeifItem {
  id: number;
  type: string;
  hidden: boolean;
  /** A `mime` item's content type (XMP is `application/rdf+xml`). */
  contentType?: string;
  /** Where its bytes are in the file, in order (empty when they are in no place this reader resolves). */
  extents: Extent[];
  /** An auxiliary image's `auxC` type. */
  auxType?: string;
}

export interface HeifFile {
  primary?: number;
  items: Map<number, HeifItem>;
  /** A timed image sequence (a `moov` box): a burst or a moving photo, not one photo. */
  sequence: boolean;
}

/** Whether `data` begins as a HEIF file (its `ftyp` names a HEIF brand). */
export function isHeif(data: Buffer): boolean {
  if (data.length < 16 || data.toString('latin1', 4, 8) !== 'ftyp') return false;
  const end = Math.min(data.readUInt32BE(0), data.length);
  if (HEIF_BRANDS.has(data.toString('latin1', 8, 12))) return true;
  for (let at = 16; at + 4 <= end; at += 4) if (HEIF_BRANDS.has(data.toString('latin1', at, at + 4))) return true;
  return false;
}

/** Which HEIF a file is by its major brand: an AVIF, or (every other HEIF brand) a HEIC. */
export const heifKind = (data: Buffer): 'avif' | 'heic' => (['avif', 'avis'].includes(data.toString('latin1', 8, 12)) ? 'avif' : 'heic');

/** The boxes in `[from, to)` of `d`; MetadataError when one runs past its container. */
function boxes(d: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  for (let at = from; at < to;) {
    if (at + 8 > to) throw new MetadataError(`HEIF: a box header past the end at byte ${at}`);
    let size = d.readUInt32BE(at);
    const type = d.toString('latin1', at + 4, at + 8);
    let body = at + 8;
    if (size === 1) {
      if (at + 16 > to) throw new MetadataError(`HEIF: box '${type}' at byte ${at} runs past its container`);
      size = Number(d.readBigUInt64BE(at + 8));
      body = at + 16;
    } else if (size === 0) size = to - at;
    if (size < body - at || at + size > to) throw new MetadataError(`HEIF: box '${type}' at byte ${at} runs past its container`);
    out.push({ type, start: at, body, end: at + size });
    at += size;
  }
  return out;
}

/** A cursor over one box's content, refusing to read past it. */
class Reader {
  constructor(
    private readonly d: Buffer,
    public at: number,
    private readonly end: number,
  ) {}
  private need(n: number): number {
    if (this.at + n > this.end) throw new MetadataError(`HEIF: a field past its box at byte ${this.at}`);
    const at = this.at;
    this.at += n;
    return at;
  }
  u8 = (): number => this.d.readUInt8(this.need(1));
  u16 = (): number => this.d.readUInt16BE(this.need(2));
  u32 = (): number => this.d.readUInt32BE(this.need(4));
  /** An unsigned field of 0, 4 or 8 bytes (iloc's sizes). */
  uint(bytes: number): number {
    if (bytes === 0) return 0;
    if (bytes === 4) return this.u32();
    if (bytes === 8) return Number(this.d.readBigUInt64BE(this.need(8)));
    throw new MetadataError(`HEIF: a field of ${bytes} bytes`);
  }
  fourcc = (): string => this.d.toString('latin1', this.need(4), this.at);
  /** A NUL-terminated string (the last one in a box may lack its NUL). */
  string(): string {
    const nul = this.d.indexOf(0, this.at);
    const stop = nul < 0 || nul >= this.end ? this.end : nul;
    const s = this.d.toString('utf8', this.at, stop);
    this.at = Math.min(stop + 1, this.end);
    return s;
  }
  /** A full box's version and flags. */
  full(): { version: number; flags: number } {
    const v = this.u32();
    return { version: v >>> 24, flags: v & 0xffffff };
  }
}

const child = (list: Box[], type: string): Box | undefined => list.find((b) => b.type === type);

/** The facts of a HEIF file; MetadataError when its boxes do not parse. */
export function readHeif(d: Buffer): HeifFile {
  if (!isHeif(d)) throw new MetadataError('not a HEIF file (no HEIF brand in its ftyp)');
  const top = boxes(d, 0, d.length);
  const file: HeifFile = { items: new Map(), sequence: top.some((b) => b.type === 'moov') };
  const meta = child(top, 'meta');
  if (!meta) return file;
  const parts = boxes(d, meta.body + 4, meta.end);
  const pitm = child(parts, 'pitm');
  if (pitm) {
    const r = new Reader(d, pitm.body, pitm.end);
    file.primary = r.full().version === 0 ? r.u16() : r.u32();
  }
  const iinf = child(parts, 'iinf');
  if (iinf) {
    const r = new Reader(d, iinf.body, iinf.end);
    if (r.full().version === 0) r.u16();
    else r.u32();
    for (const infe of boxes(d, r.at, iinf.end)) {
      if (infe.type !== 'infe') continue;
      const e = new Reader(d, infe.body, infe.end);
      const { version, flags } = e.full();
      // Versions 0 and 1 describe files, not images: nothing of an image's.
      if (version < 2) continue;
      const id = version === 2 ? e.u16() : e.u32();
      e.u16(); // protection index
      const type = e.fourcc();
      e.string(); // name
      file.items.set(id, { id, type, hidden: (flags & 1) === 1, extents: [], ...(type === 'mime' ? { contentType: e.string() } : {}) });
    }
  }
  const idat = child(parts, 'idat');
  const iloc = child(parts, 'iloc');
  if (iloc) readLocations(d, iloc, idat, file);
  const iprp = child(parts, 'iprp');
  if (iprp) readAuxTypes(d, iprp, file);
  return file;
}

/** Each item's extents from `iloc`: in the file (construction 0) or in `idat` (1); items built from items (2) keep none. */
function readLocations(d: Buffer, iloc: Box, idat: Box | undefined, file: HeifFile): void {
  const r = new Reader(d, iloc.body, iloc.end);
  const { version } = r.full();
  const sizes = r.u8();
  const more = r.u8();
  const offsetSize = sizes >> 4;
  const lengthSize = sizes & 15;
  const baseSize = more >> 4;
  const indexSize = version >= 1 ? more & 15 : 0;
  const count = version < 2 ? r.u16() : r.u32();
  for (let i = 0; i < count; i++) {
    const id = version < 2 ? r.u16() : r.u32();
    const method = version >= 1 ? r.u16() & 15 : 0;
    r.u16(); // data reference index: 0, this file
    const base = r.uint(baseSize);
    const extents: Extent[] = [];
    const n = r.u16();
    // Extents of no bytes at all would let a small box spin this loop for a long time.
    if (n > 1 && indexSize + offsetSize + lengthSize === 0) throw new MetadataError(`HEIF: item ${id} has ${n} extents of no size`);
    for (let k = n; k > 0; k--) {
      r.uint(indexSize);
      const offset = base + r.uint(offsetSize);
      const length = r.uint(lengthSize);
      extents.push({ offset, length });
    }
    const item = file.items.get(id);
    if (!item) continue;
    const origin = method === 0 ? 0 : method === 1 && idat ? idat.body : undefined;
    if (origin === undefined) continue;
    const limit = method === 0 ? d.length : (idat as Box).end;
    for (const e of extents) {
      // A length of 0 is "to the end of the data".
      const at = { offset: origin + e.offset, length: e.length === 0 ? limit - origin - e.offset : e.length };
      if (at.offset < 0 || at.length < 0 || at.offset + at.length > limit) throw new MetadataError(`HEIF: item ${id}'s bytes lie past the end of the file`);
      item.extents.push(at);
    }
  }
}

/** The `auxC` type of every auxiliary image, from the property container and its associations. */
function readAuxTypes(d: Buffer, iprp: Box, file: HeifFile): void {
  const inside = boxes(d, iprp.body, iprp.end);
  const ipco = child(inside, 'ipco');
  if (!ipco) return;
  const properties = boxes(d, ipco.body, ipco.end);
  for (const ipma of inside.filter((b) => b.type === 'ipma')) {
    const r = new Reader(d, ipma.body, ipma.end);
    const { version, flags } = r.full();
    for (let n = r.u32(); n > 0; n--) {
      const id = version < 1 ? r.u16() : r.u32();
      for (let k = r.u8(); k > 0; k--) {
        const index = flags & 1 ? r.u16() & 0x7fff : r.u8() & 0x7f;
        const p = properties[index - 1];
        const item = file.items.get(id);
        if (!p || p.type !== 'auxC' || !item) continue;
        const a = new Reader(d, p.body, p.end);
        a.full();
        item.auxType = a.string();
      }
    }
  }
}

/** Whether the photo carries an HDR gain map: Apple's auxiliary image, or an ISO 21496-1 tone-map item. */
export function hasGainMap(file: HeifFile): boolean {
  for (const item of file.items.values()) if (item.type === 'tmap' || APPLE_GAIN_MAP.test(item.auxType ?? '')) return true;
  return false;
}

/** The Exif items (their bytes: a 4-byte offset to the TIFF header, then the block) and the XMP items. */
export function metadataItems(file: HeifFile): { exif: HeifItem[]; xmp: HeifItem[] } {
  const items = [...file.items.values()];
  return {
    exif: items.filter((i) => i.type === 'Exif'),
    xmp: items.filter((i) => i.type === 'mime' && i.contentType === 'application/rdf+xml'),
  };
}

/** An item's bytes, gathered from its extents. */
export const itemBytes = (d: Buffer, item: HeifItem): Buffer => Buffer.concat(item.extents.map((e) => d.subarray(e.offset, e.offset + e.length)));

/** Writes `bytes` (as long as the item) back over the item's extents in `d`. */
export function putItemBytes(d: Buffer, item: HeifItem, bytes: Buffer): void {
  let from = 0;
  for (const e of item.extents) {
    bytes.copy(d, e.offset, from, from + e.length);
    from += e.length;
  }
}
