/**
 * The tests' HEIF originals, made from the fixture photographs (no licensed phone HEIC
 * sample is packaged): HEIC by Debian's libheif encoder (heif-enc, x265), which carries
 * the JPEG's Exif, XMP and ICC profile over as a phone's camera does; and an AVIF by
 * sharp, whose encoder writes the rotation as the container's `irot` as phones do.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { FIXTURES } from './test-stack.js';

const run = promisify(execFile);

/** heif-enc's HEIC of the JPEGs given (several: one file holding several images). */
export async function heicOf(...jpegs: Buffer[]): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-test-heic-'));
  try {
    const inputs = jpegs.map((j, i) => {
      writeFileSync(join(dir, `${i}.jpg`), j);
      return join(dir, `${i}.jpg`);
    });
    await run('heif-enc', ['-q', '60', '-o', join(dir, 'out.heic'), ...inputs]);
    return readFileSync(join(dir, 'out.heic'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fixture photograph as a phone saves it: where it was taken, who took it; `icc` a profile name (p3). */
export const phoneJpeg = (name = 'garden.jpg', o: { icc?: string; xmp?: string } = {}): Promise<Buffer> => {
  let img = sharp(join(FIXTURES, name)).withExif({
    IFD0: { Make: 'Phone', Copyright: 'Jane Doe 2026', Artist: 'Jane Doe' },
    IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2659/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3993/100' },
  });
  if (o.icc) img = img.withIccProfile(o.icc);
  if (o.xmp) img = img.withXmp(o.xmp);
  return img.jpeg({ quality: 92 }).toBuffer();
};

/** A phone's HEIC of a fixture photograph. */
export const phoneHeic = async (name = 'garden.jpg', o: { icc?: string; xmp?: string } = {}): Promise<Buffer> => heicOf(await phoneJpeg(name, o));

/** A photo held sideways (Exif orientation 6) as a JPEG, and as an AVIF whose container says the turn (`irot`). */
export async function turned(name = 'garden.jpg'): Promise<{ jpeg: Buffer; avif: Buffer }> {
  const jpeg = await sharp(join(FIXTURES, name)).withMetadata({ orientation: 6 }).jpeg({ quality: 92 }).toBuffer();
  return { jpeg, avif: await sharp(jpeg).keepMetadata().avif({ quality: 70 }).toBuffer() };
}
