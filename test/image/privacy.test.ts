import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import exifReader from 'exif-reader';
import sharp from 'sharp';
import { request } from 'undici';
import { createLogger } from '../../common/logger.js';
import { seededRandom } from '../../common/random.js';
import {
  CpuBackend,
  DEFAULT_LADDER,
  LOCATION_META,
  MetadataError,
  iccDescription,
  originalPath,
  perceptualRecompress,
  withoutLocation,
} from '../../image/index.js';
import { jpegSegments } from '../../image/jpeg-segments.js';
import { OriginServer } from '../../origin/index.js';
import { DirStore } from '../../store/index.js';
import { FIXTURES } from '../helpers/test-stack.js';

const ENCODE = { quality: 85, progressive: true, chromaSubsampling: '4:2:0' } as const;
const XMP_GPS =
  '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.0N"/></rdf:RDF></x:xmpmeta>';

/** A real photograph as a phone would save it: where it was taken, who took it, what with. */
const phonePhoto = (): Promise<Buffer> =>
  sharp(join(FIXTURES, 'garden.jpg'))
    .withExif({
      IFD0: { Make: 'Phone', Copyright: 'Jane Doe 2026', Artist: 'Jane Doe' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2659/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3993/100' },
    })
    .jpeg({ quality: 92 })
    .toBuffer();

const exifOf = async (jpeg: Buffer) => {
  const m = await sharp(jpeg).metadata();
  return m.exif ? exifReader(m.exif) : undefined;
};
/** Everything from the first scan on: the image data. */
const scans = (jpeg: Buffer): Buffer => jpeg.subarray(jpegSegments(jpeg).rest);

describe('what is served of a photo: no location, the colour profile and credits kept', () => {
  it('takes the GPS out of an original and nothing else: every other tag, every scan byte for byte, the same pixels', async () => {
    const phone = await phonePhoto();
    assert.ok((await exifOf(phone))?.GPSInfo, 'the fixture has a location');
    const served = withoutLocation(phone);
    const exif = await exifOf(served);
    assert.equal(exif?.GPSInfo, undefined);
    assert.equal((exif?.Image as Record<string, unknown>).GPSTag, undefined);
    assert.deepEqual([exif?.Image?.Make, exif?.Image?.Copyright, exif?.Image?.Artist], ['Phone', 'Jane Doe 2026', 'Jane Doe']);
    assert.ok(scans(served).equals(scans(phone)), 'image data untouched');
    assert.equal(served.length, phone.length, 'a metadata edit in place');
    // The coordinates' bytes are gone, not only unlinked: 2659/100 seconds, as a little- or big-endian rational.
    for (const le of [true, false]) {
      const r = Buffer.alloc(8);
      if (le) {
        r.writeUInt32LE(2659, 0);
        r.writeUInt32LE(100, 4);
      } else {
        r.writeUInt32BE(2659, 0);
        r.writeUInt32BE(100, 4);
      }
      assert.equal(served.indexOf(r), -1);
    }
    assert.deepEqual(await sharp(served).raw().toBuffer(), await sharp(phone).raw().toBuffer());
    const plain = await sharp(join(FIXTURES, 'aqua.jpg')).jpeg().toBuffer();
    assert.equal(withoutLocation(plain), plain, 'a photo with no location is served as it is');
  });

  it('drops XMP and IPTC that place a photo, keeps XMP that does not', async () => {
    const withXmp = await sharp(join(FIXTURES, 'aqua.jpg')).withXmp(XMP_GPS).jpeg().toBuffer();
    assert.ok(withXmp.includes('GPSLatitude'));
    assert.ok(!withoutLocation(withXmp).includes('GPSLatitude'));
    const harmless = await sharp(join(FIXTURES, 'aqua.jpg'))
      .withXmp(XMP_GPS.replace('exif:GPSLatitude="51,30.0N"', 'exif:ExposureTime="1/60"'))
      .jpeg()
      .toBuffer();
    assert.equal(withoutLocation(harmless), harmless);
    // An APP13 Photoshop block with IPTC 2:90 (city).
    const city = Buffer.concat([Buffer.from('Photoshop 3.0\0', 'latin1'), Buffer.from([0x1c, 2, 90, 0, 6]), Buffer.from('London')]);
    const app13 = Buffer.concat([Buffer.from([0xff, 0xed]), Buffer.from([0, city.length + 2]), city]);
    const plain = await sharp(join(FIXTURES, 'aqua.jpg')).jpeg().toBuffer();
    const iptc = Buffer.concat([plain.subarray(0, 2), app13, plain.subarray(2)]);
    const served = withoutLocation(iptc);
    assert.ok(!served.includes('London') && served.length === plain.length);
  });

  it('fuzz: damaged metadata is a MetadataError or a JPEG, never another exception (seeded)', async () => {
    const seed = Number(process.env.HEARTH_FUZZ_SEED ?? Date.now() % 1e9);
    process.stdout.write(`      fuzz seed ${seed}\n`);
    const rand = seededRandom(seed);
    const phone = await phonePhoto();
    const head = jpegSegments(phone).rest;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(phone.subarray(0, head + 64));
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) b[2 + Math.floor(rand() * (head - 2))] = Math.floor(rand() * 256);
      const cut = rand() < 0.2 ? b.subarray(0, Math.floor(rand() * b.length)) : b;
      try {
        withoutLocation(cut);
      } catch (err) {
        assert.ok(err instanceof MetadataError, `seed ${seed} case ${i}: ${(err as Error).stack}`);
      }
    }
  });

  it('resizes keep a Display P3 profile (pixels not converted) and the copyright and artist, and nothing else; the perceptual pass keeps them too', async () => {
    const phone = await sharp(await phonePhoto())
      .withIccProfile('p3')
      .withExif({ IFD0: { Make: 'Phone', Copyright: 'Jane Doe 2026', Artist: 'Jane Doe' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const backend = new CpuBackend(1);
    const z = (
      await backend.resize(
        phone,
        DEFAULT_LADDER.find((s) => s.name === 'z')!,
        ENCODE,
      )
    ).data;
    const meta = await sharp(z).metadata();
    assert.match(iccDescription(meta.icc!) ?? '', /P3/);
    const exif = await exifOf(z);
    assert.deepEqual([exif?.Image?.Copyright, exif?.Image?.Artist, exif?.Image?.Make, exif?.GPSInfo], ['Jane Doe 2026', 'Jane Doe', undefined, undefined]);
    // Not converted to sRGB: the stored values are P3's, close to the source's own.
    const raw = async (b: Buffer) => sharp(b, { ignoreIcc: true }).resize(1, 1).raw().toBuffer();
    const [src, out, srgb] = [await raw(phone), await raw(z), await raw(await sharp(z).toColourspace('srgb').jpeg().toBuffer())];
    const far = (a: Buffer, b: Buffer) => Math.max(...[0, 1, 2].map((c) => Math.abs((a[c] as number) - (b[c] as number))));
    assert.ok(far(src, out) < far(src, srgb), `P3 values kept (${out.toString('hex')} of ${src.toString('hex')}; as sRGB ${srgb.toString('hex')})`);
    const pq = await perceptualRecompress(z);
    const after = await sharp(pq.data).metadata();
    assert.match(iccDescription(after.icc!) ?? '', /P3/);
    assert.equal((await exifOf(pq.data))?.Image?.Copyright, 'Jane Doe 2026');
    // An sRGB photo's sizes carry no profile (sRGB is what a browser assumes).
    const plain = (
      await backend.resize(
        await sharp(join(FIXTURES, 'aqua.jpg')).withIccProfile('srgb').jpeg().toBuffer(),
        DEFAULT_LADDER.find((s) => s.name === 'm')!,
        ENCODE,
      )
    ).data;
    assert.equal((await sharp(plain).metadata()).icc, undefined);
  });

  it('the origin serves an original without its location unless its policy keeps it, from a store that keeps it byte-exact; ETag names the bytes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-privacy-'));
    const store = new DirStore(root);
    const phone = await phonePhoto();
    await store.put(originalPath('501'), phone);
    await store.put(originalPath('502'), phone, { [LOCATION_META]: 'keep' });
    const origin = new OriginServer({
      store: root,
      host: '127.0.0.1',
      port: 0,
      storeDerived: false,
      maxConcurrent: 1,
      maxQueue: 4,
      encode: ENCODE,
      logger: createLogger('origin', 'silent'),
    });
    const { port } = await origin.start();
    try {
      const get = async (path: string) => {
        const r = await request(`http://127.0.0.1:${port}${path}`);
        return { body: Buffer.from(await r.body.arrayBuffer()), etag: r.headers.etag, modified: r.headers['last-modified'] };
      };
      const served = await get(originalPath('501'));
      assert.equal((await exifOf(served.body))?.GPSInfo, undefined);
      assert.ok(served.body.equals(withoutLocation(phone)));
      assert.ok((await store.get(originalPath('501'))).equals(phone), 'stored byte-exact');
      assert.match(String(served.etag), /^"[0-9a-f]{16}"$/);
      assert.ok(served.modified && Date.parse(String(served.modified)) > 0);
      assert.equal((await get(originalPath('501'))).etag, served.etag, 'the same bytes, the same ETag');
      const kept = await get(originalPath('502'));
      assert.ok(kept.body.equals(phone), 'its policy keeps the location');
      assert.notEqual(kept.etag, served.etag);
      const size = await get(`/photos/5/501_m.jpg`);
      assert.equal((await exifOf(size.body))?.GPSInfo, undefined, 'a size made on demand has no location either');
      assert.equal((await exifOf(size.body))?.Image?.Copyright, 'Jane Doe 2026');
    } finally {
      await origin.stop();
    }
  });
});
