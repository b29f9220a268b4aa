/**
 * Phone photos in: a HEIC (or AVIF) original is decoded by libheif, upright, with its
 * colour profile and credits, resized like a JPEG, refused with a clear reason when it is
 * no single whole photo, and served without its location, edited in place.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import exifReader from 'exif-reader';
import sharp, { type Sharp } from 'sharp';
import { seededRandom } from '../../common/random.js';
import {
  CorruptImageError,
  CpuBackend,
  MAX_PIXELS,
  MetadataError,
  UnusableImage,
  decodeOriginal,
  iccDescription,
  isHeif,
  readHeif,
  servedOriginal,
} from '../../image/index.js';
import { hasGainMap } from '../../image/heif.js';
import { heicOf, phoneHeic, phoneJpeg, turned } from '../helpers/heif.js';
import { FIXTURES } from '../helpers/test-stack.js';

const ENCODE = { quality: 85, progressive: true, chromaSubsampling: '4:2:0' } as const;
const XMP_GPS =
  '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.0N"/></rdf:RDF></x:xmpmeta>';

/** Mean absolute difference of two images' pixels, 0–255, at one size. */
async function meanDiff(a: Buffer, b: Buffer): Promise<number> {
  const { width, height } = await sharp(a).metadata();
  const raw = (x: Buffer) => sharp(x).resize(width, height, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer();
  const [pa, pb] = await Promise.all([raw(a), raw(b)]);
  let sum = 0;
  for (let i = 0; i < pa.length; i++) sum += Math.abs((pa[i] as number) - (pb[i] as number));
  return sum / pa.length;
}

/** The position of box `type` in `data` (its size field), found by its name. */
const boxAt = (data: Buffer, type: string): number => data.indexOf(type, 0, 'latin1') - 4;

/** A full box: size, type, version and flags, content. */
const fullBox = (type: string, version: number, flags: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat([Buffer.from([version, flags >> 16, (flags >> 8) & 255, flags & 255]), ...content]);
  return box(type, body);
};
const box = (type: string, body: Buffer): Buffer => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
};
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 255]);
const u32 = (n: number): Buffer => Buffer.from([n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255]);

/** Children of the box whose content starts at `from` and ends at `to`, as [type, bytes]. */
function children(d: Buffer, from: number, to: number): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (let at = from; at < to; at += d.readUInt32BE(at)) out.push([d.toString('latin1', at + 4, at + 8), d.subarray(at, at + d.readUInt32BE(at))]);
  return out;
}

/**
 * `heic` with one more item: a hidden image of auxiliary type `urn`, as an iPhone stores
 * its gain map (an infe, an auxC property, its association). Only the meta box changes;
 * the image data's offsets are then stale, which the box reader never follows.
 */
function withAuxiliaryImage(heic: Buffer, urn: string): Buffer {
  const top = children(heic, 0, heic.length);
  const metaAt = top.findIndex(([t]) => t === 'meta');
  const meta = top[metaAt]![1];
  const parts = children(meta, 12, meta.length).map(([type, b]): Buffer => {
    if (type === 'iinf') {
      // Version 0: a 16-bit count, then the entries.
      const entries = b.subarray(14);
      const infe = fullBox('infe', 2, 1, u16(99), u16(0), Buffer.from('hvc1\0', 'latin1'));
      return fullBox('iinf', 0, 0, u16(b.readUInt16BE(12) + 1), entries, infe);
    }
    if (type !== 'iprp') return b;
    const inner = children(b, 8, b.length);
    const ipco = inner.find(([t]) => t === 'ipco')![1];
    const ipma = inner.find(([t]) => t === 'ipma')![1];
    const properties = children(ipco, 8, ipco.length).length;
    const newIpco = box('ipco', Buffer.concat([ipco.subarray(8), fullBox('auxC', 0, 0, Buffer.from(`${urn}\0`, 'latin1'))]));
    // ipma version 0 with 8-bit indices (flags 0): item id, one association, the new property.
    assert.deepEqual([ipma[8], ipma[11]], [0, 0], 'ipma version 0, flags 0');
    const newIpma = fullBox('ipma', 0, 0, u32(ipma.readUInt32BE(12) + 1), ipma.subarray(16), u16(99), Buffer.from([1, 0x80 | (properties + 1)]));
    return box('iprp', Buffer.concat(inner.map(([t, x]) => (t === 'ipco' ? newIpco : t === 'ipma' ? newIpma : x))));
  });
  const newMeta = box('meta', Buffer.concat([meta.subarray(8, 12), ...parts]));
  return Buffer.concat(top.map(([, b], i) => (i === metaAt ? newMeta : b)));
}

describe('HEIF originals (phone photos)', function () {
  this.timeout(60_000);
  const backend = new CpuBackend();

  it('a HEIC decodes by libheif to the photo: its size, its pixels, its credits; sharp alone cannot decode it', async () => {
    const jpeg = await phoneJpeg();
    const heic = await heicOf(jpeg);
    assert.ok(isHeif(heic) && !isHeif(jpeg));
    await assert.rejects(sharp(heic).raw().toBuffer(), /HEVC|decoder|bad seek/i, "sharp's bundled libheif has no HEVC decoder");
    const d = await decodeOriginal(heic);
    assert.deepEqual([d.format, d.meta.width, d.meta.height, d.gainMap, d.upright], ['heic', 1024, 640, false, true]);
    const diff = await meanDiff(d.pixels, jpeg);
    assert.ok(diff < 6, `decoded HEIC within ${diff.toFixed(2)} of its source`);
    assert.equal(exifReader(d.meta.exif!).Image?.Copyright, 'Jane Doe 2026');
    // Every size of it carries the credits, as a JPEG's do, and is a JPEG.
    const z = await backend.resize(heic, { size: 640, square: false }, ENCODE);
    const zm = await sharp(z.data).metadata();
    assert.deepEqual([zm.format, z.width, z.height], ['jpeg', 640, 400]);
    assert.equal(exifReader(zm.exif!).Image?.Copyright, 'Jane Doe 2026');
    assert.equal(exifReader(zm.exif!).GPSInfo, undefined);
  });

  it("a wide-gamut (Display P3) HEIC keeps its profile in every size, as a JPEG's does", async () => {
    const heic = await phoneHeic('aqua.jpg', { icc: 'p3' });
    const d = await decodeOriginal(heic);
    assert.match(iccDescription(d.meta.icc!) ?? '', /P3/);
    const out = await backend.resize(heic, { size: 320, square: false }, ENCODE);
    assert.match(iccDescription((await sharp(out.data).metadata()).icc!) ?? '', /P3/);
  });

  it("the container's rotation is applied once: a HEIF held sideways comes out upright, as its JPEG twin with Exif orientation does", async () => {
    const { jpeg, avif } = await turned('ladybird.jpg');
    assert.ok(avif.includes('irot'), 'the rotation is in the container');
    const d = await decodeOriginal(avif);
    assert.equal(d.format, 'avif');
    // libheif turned it; the Exif orientation it still carries is informative only.
    assert.ok(d.meta.height > d.meta.width, 'decoded upright (portrait)');
    for (const spec of [
      { size: 320, square: false },
      { size: 150, square: true },
    ]) {
      const [fromAvif, fromJpeg] = await Promise.all([backend.resize(avif, spec, ENCODE), backend.resize(jpeg, spec, ENCODE)]);
      assert.deepEqual([fromAvif.width, fromAvif.height], [fromJpeg.width, fromJpeg.height], `${spec.size}: the same shape as the JPEG's`);
      const diff = await meanDiff(fromAvif.data, fromJpeg.data);
      assert.ok(diff < 8, `${spec.size}: the same picture, not turned twice (mean difference ${diff.toFixed(2)})`);
    }
  });

  it('refuses what is no single whole photo, saying what it is: truncated, empty, a bomb, several images, not an image', async () => {
    const heic = await phoneHeic();
    const bomb = Buffer.from(heic);
    // The image's declared size (ispe) edited to 20000×20000: refused before any pixel is decoded.
    const ispe = boxAt(bomb, 'ispe');
    bomb.writeUInt32BE(20000, ispe + 12);
    bomb.writeUInt32BE(20000, ispe + 16);
    const ftyp = heic.subarray(0, heic.readUInt32BE(0));
    const cases: [string, Buffer, UnusableImage['kind'], RegExp][] = [
      ['truncated', heic.subarray(0, Math.floor(heic.length * 0.6)), 'damaged', /damaged HEIF|cannot decode/],
      ['no image', ftyp, 'empty', /no image/],
      ['a decompression bomb', bomb, 'too_large', new RegExp(`declares more than ${MAX_PIXELS} pixels`)],
      ['two photos in one file', await heicOf(await phoneJpeg('garden.jpg'), await phoneJpeg('aqua.jpg')), 'sequence', /2 images: upload one photo/],
      ['a PNG', await sharp(join(FIXTURES, 'garden.jpg')).png().toBuffer(), 'unsupported', /neither a JPEG nor a HEIF \(its content is png\)/],
      ['text', Buffer.from('not an image at all'), 'unreadable', /not an image/],
    ];
    for (const [what, data, kind, why] of cases) {
      await assert.rejects(
        decodeOriginal(data, { whole: true }),
        (err: unknown) => err instanceof UnusableImage && err.kind === kind && why.test(err.message),
        what,
      );
      // The resize tier dead-letters it as corrupt_source, never crashes.
      await assert.rejects(backend.resize(data, { size: 320, square: false }, ENCODE), CorruptImageError, what);
    }
  });

  it('an original is served without its location, edited in place: the GPS and a placing XMP gone, every image byte the same', async () => {
    const heic = await phoneHeic('garden.jpg', { xmp: XMP_GPS });
    const file = readHeif(heic);
    assert.ok(
      [...file.items.values()].some((i) => i.type === 'mime'),
      'the XMP is an item',
    );
    const before = await decodeOriginal(heic);
    assert.ok(exifReader(before.meta.exif!).GPSInfo, 'the fixture has a location');
    assert.ok(heic.includes('GPSLatitude'));
    const served = servedOriginal(heic, {});
    assert.equal(served.length, heic.length, 'edited in place');
    assert.ok(!served.includes('GPSLatitude'), 'no placing XMP');
    // Only bytes inside the Exif and XMP items changed.
    const inItems = [...file.items.values()].filter((i) => i.type === 'Exif' || i.type === 'mime').flatMap((i) => i.extents);
    for (let i = 0; i < heic.length; i++)
      if (heic[i] !== served[i])
        assert.ok(
          inItems.some((e) => i >= e.offset && i < e.offset + e.length),
          `byte ${i} outside the metadata items changed`,
        );
    const after = await decodeOriginal(served);
    const exif = exifReader(after.meta.exif!);
    assert.equal(exif.GPSInfo, undefined);
    assert.equal(exif.Image?.Copyright, 'Jane Doe 2026', 'every other tag stays');
    assert.ok((await sharp(after.pixels).raw().toBuffer()).equals(await sharp(before.pixels).raw().toBuffer()), 'the same pixels');
    assert.equal(servedOriginal(heic, { location: 'keep' }), heic, 'a photo that keeps its location is served as stored');
  });

  it("counts HDR gain maps: an UltraHDR JPEG's, an iPhone HEIC's auxiliary image; not a plain photo's, nor another auxiliary image", async () => {
    // sharp 0.35's experimental gain-map output (missing from its type definitions): an ISO 21496-1 map made for the photo.
    const hdr = await (sharp(join(FIXTURES, 'garden.jpg')) as unknown as { withGainMap(): Sharp }).withGainMap().jpeg().toBuffer();
    assert.equal((await decodeOriginal(hdr)).gainMap, true);
    assert.equal((await decodeOriginal(await phoneJpeg())).gainMap, false);
    const heic = await phoneHeic();
    assert.equal(hasGainMap(readHeif(heic)), false);
    // An iPhone's gain map is a hidden auxiliary image typed by its auxC property; no tool
    // here writes one, so the boxes are added to a real HEIC by hand (the pixels are not read).
    assert.equal(hasGainMap(readHeif(withAuxiliaryImage(heic, 'urn:com:apple:photo:2020:aux:hdrgainmap'))), true);
    assert.equal(hasGainMap(readHeif(withAuxiliaryImage(heic, 'urn:mpeg:hevc:2015:auxid:1'))), false, 'an alpha plane is no gain map');
  });

  it('the HEIF reader refuses a damaged container with MetadataError only, whatever the damage (seeded fuzz)', async () => {
    const heic = await phoneHeic('garden.jpg', { xmp: XMP_GPS });
    const metaEnd = boxAt(heic, 'mdat');
    const seed = Number(process.env.HEARTH_FUZZ_SEED ?? 0x4e1c);
    const rnd = seededRandom(seed);
    let refused = 0;
    for (let n = 0; n < 3000; n++) {
      const bad = Buffer.from(heic);
      // Damage where the boxes are (the first bytes up to the image data), or cut the file short.
      if (n % 10 === 0) {
        const cut = bad.subarray(0, Math.floor(rnd() * heic.length));
        try {
          servedOriginal(cut, {});
        } catch (err) {
          assert.ok(err instanceof MetadataError, `seed ${seed}, cut at ${cut.length}: ${String(err)}`);
          refused++;
        }
        continue;
      }
      for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) bad[Math.floor(rnd() * metaEnd)] = Math.floor(rnd() * 256);
      try {
        const f = readHeif(bad);
        servedOriginal(bad, {});
        hasGainMap(f);
      } catch (err) {
        assert.ok(err instanceof MetadataError, `seed ${seed}, case ${n}: ${String(err)}`);
        refused++;
      }
    }
    console.log(`      HEIF fuzz seed ${seed}: ${refused} of 3000 refused, the rest read`);
  });
});
