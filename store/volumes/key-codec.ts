/**
 * Store paths as the few bytes a needle carries. A needle holds its own key (so a volume
 * alone rebuilds everything), and at a hundred million thumbnails of 3–10 KB every byte
 * of it is disk overhead: `/photos/12345678901234/1234567890123456_z.jpg` is 45 bytes of
 * text but only an id and a size letter, 10 bytes here. The forms below are the store's
 * well-known paths (`<dir>` is always the id without its last two digits, `0` for ids of
 * one or two digits); every other key is kept as its UTF-8 text. Form numbers are on disk:
 * never change or reuse one, only add.
 */

const RAW = 0;
/** `/photos/<dir>/<id>_<x>.jpg`, one-letter size: id, letter. */
const SIZE1 = 1;
/** `/photos/<dir>/<id>_<xyz>.jpg`, two or three letters. */
const SIZE3 = 2;
/** `/originals/<dir>/<id>.jpg`, `.jxl`, and the quarantine: id only. */
const FIXED: readonly { form: number; prefix: string; suffix: string }[] = [
  { form: 3, prefix: '/originals/', suffix: '.jpg' },
  { form: 4, prefix: '/originals/', suffix: '.jxl' },
  { form: 5, prefix: '/quarantine/', suffix: '.jpg' },
  { form: 6, prefix: '/originals/', suffix: '.identity.json' },
];
const BY_FORM = new Map(FIXED.map((f) => [f.form, f]));

/** The longest key a needle can hold (its length is one byte). */
export const MAX_KEY_BYTES = 255;

const SHAPE = /^\/(photos|originals|quarantine)\/([0-9]+)\/([1-9][0-9]{0,19})(.*)$/;
const MAX_ID = 2n ** 64n - 1n;

const fanOut = (id: string): string => (id.length > 2 ? id.slice(0, -2) : '0');

function idBytes(form: number, id: bigint, extra: number): Buffer {
  const out = Buffer.allocUnsafe(9 + extra);
  out[0] = form;
  out.writeBigUInt64LE(id, 1);
  return out;
}

/** The bytes a needle stores for `key`. */
export function encodeKey(key: string): Buffer {
  const m = SHAPE.exec(key);
  if (m && m[2] === fanOut(m[3]!) && BigInt(m[3]!) <= MAX_ID) {
    const [, top, , idText, rest] = m as unknown as [string, string, string, string, string];
    const id = BigInt(idText);
    const size = top === 'photos' ? /^_([a-z]{1,3})\.jpg$/.exec(rest) : null;
    if (size) {
      const letters = size[1]!;
      if (letters.length === 1) {
        const out = idBytes(SIZE1, id, 1);
        out[9] = letters.charCodeAt(0);
        return out;
      }
      const out = idBytes(SIZE3, id, 3);
      out.write(letters.padEnd(3, '\0'), 9, 'latin1');
      return out;
    }
    const fixed = FIXED.find((f) => f.prefix === `/${top}/` && f.suffix === rest);
    if (fixed) return idBytes(fixed.form, id, 0);
  }
  const text = Buffer.from(key, 'utf8');
  if (text.length + 1 > MAX_KEY_BYTES) throw new RangeError(`store key of ${text.length} bytes is over the ${MAX_KEY_BYTES - 1} a needle holds`);
  return Buffer.concat([Buffer.of(RAW), text]);
}

/** The key `encodeKey` made these bytes from; undefined for bytes it never makes (damage). */
export function decodeKey(b: Buffer): string | undefined {
  if (b.length === 0) return undefined;
  const form = b[0]!;
  if (form === RAW) {
    const key = b.toString('utf8', 1);
    // A damaged raw key could decode to anything; only what encodeKey would write back the same way is a key.
    return key.startsWith('/') && encodeKey(key).equals(b) ? key : undefined;
  }
  if (b.length < 9) return undefined;
  const id = b.readBigUInt64LE(1);
  if (id === 0n) return undefined;
  const idText = id.toString();
  const dir = fanOut(idText);
  let key: string | undefined;
  if (form === SIZE1 && b.length === 10 && b[9]! >= 0x61 && b[9]! <= 0x7a) key = `/photos/${dir}/${idText}_${String.fromCharCode(b[9]!)}.jpg`;
  else if (form === SIZE3 && b.length === 12) {
    const letters = b.toString('latin1', 9).replace(/\0+$/, '');
    if (/^[a-z]{2,3}$/.test(letters)) key = `/photos/${dir}/${idText}_${letters}.jpg`;
  } else {
    const fixed = BY_FORM.get(form);
    if (fixed && b.length === 9) key = `${fixed.prefix}${dir}/${idText}${fixed.suffix}`;
  }
  return key;
}
