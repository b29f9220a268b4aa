/**
 * `hearth store report`: what a store holds, by kind, per photo, and what each technique
 * saved (Flickr's cost story: which bytes are worth keeping). Any driver: it lists and
 * reads through the store interface.
 */
import { ORIGINAL_PATH, readDigest, SIZE_PATH, VARIANT_PATH } from '../image/index.js';
import type { ObjectStore } from '../store/index.js';

const SIZE = new RegExp(SIZE_PATH);
const VARIANT = new RegExp(VARIANT_PATH);
const ORIGINAL = new RegExp(ORIGINAL_PATH);
const JXL = /^\/originals\/(?:[0-9]+\/)?([0-9]{1,19})\.jxl$/;

export interface StoreReport {
  /** Distinct images with an original (JPEG or JPEG XL) or a stored size. */
  photos: number;
  bytes: {
    originals: number;
    /** Originals kept only as JPEG XL. */
    jxlOriginals: number;
    /** Stored ladder sizes (their JPEGs), by size name. */
    sizes: Record<string, number>;
    /** AVIF and WebP of sizes, kept once the origin made them, by format. */
    variants: Record<string, number>;
    quarantined: number;
    /** Sidecars, verdicts and anything else. */
    other: number;
    total: number;
  };
  perPhoto: { originals: number; sizes: number; total: number };
  saved: {
    /** Original JPEG bytes minus their JPEG XL, where the digest records the original's length. */
    lossless: number;
    /** Perceptual recompression of sizes: bytes before minus after, from each marker. */
    perceptual: number;
  };
}

/** A marker's or digest's byte counts, whatever else it holds; undefined when it is not JSON with them. */
function counts(text: string | undefined, ...names: string[]): number[] | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const out = names.map((n) => v[n]);
    return out.every((x) => typeof x === 'number' && Number.isFinite(x)) ? (out as number[]) : undefined;
  } catch {
    return undefined;
  }
}

export async function storeReport(store: ObjectStore): Promise<StoreReport> {
  const r: StoreReport = {
    photos: 0,
    bytes: { originals: 0, jxlOriginals: 0, sizes: {}, variants: {}, quarantined: 0, other: 0, total: 0 },
    perPhoto: { originals: 0, sizes: 0, total: 0 },
    saved: { lossless: 0, perceptual: 0 },
  };
  const photos = new Set<string>();
  for await (const o of store.list('/')) {
    r.bytes.total += o.size;
    const size = SIZE.exec(o.key);
    const original = ORIGINAL.exec(o.key);
    const jxl = JXL.exec(o.key);
    const variant = VARIANT.exec(o.key);
    if (variant) r.bytes.variants[variant[4]!] = (r.bytes.variants[variant[4]!] ?? 0) + o.size;
    else if (size) {
      r.bytes.sizes[size[3]!] = (r.bytes.sizes[size[3]!] ?? 0) + o.size;
      photos.add(size[2]!);
      const pq = counts(o.meta.pq, 'bytesBefore', 'bytesAfter');
      if (pq) r.saved.perceptual += pq[0]! - pq[1]!;
    } else if (original) {
      r.bytes.originals += o.size;
      photos.add(original[1]!);
    } else if (jxl) {
      r.bytes.jxlOriginals += o.size;
      photos.add(jxl[1]!);
      // The digest (the .jxl's metadata, or a sidecar in a store from before) holds the original's length.
      const digest = await readDigest(store, o.key, o.meta).catch(() => undefined);
      if (digest) r.saved.lossless += digest.bytes - o.size;
    } else if (o.key.startsWith('/quarantine/')) r.bytes.quarantined += o.size;
    else {
      r.bytes.other += o.size;
      // A store from before markers moved into metadata: its sidecar still tells the saving.
      const legacy = o.key.endsWith('.hearth-pq.json') ? counts((await store.get(o.key, 64 * 1024)).toString('utf8'), 'bytesBefore', 'bytesAfter') : undefined;
      if (legacy) r.saved.perceptual += legacy[0]! - legacy[1]!;
    }
  }
  r.photos = photos.size;
  const sizes = Object.values(r.bytes.sizes).reduce((a, b) => a + b, 0);
  if (r.photos) r.perPhoto = { originals: (r.bytes.originals + r.bytes.jxlOriginals) / r.photos, sizes: sizes / r.photos, total: r.bytes.total / r.photos };
  return r;
}

/** The report as a table for people. */
export function reportTable(r: StoreReport): string {
  const mb = (n: number): string => (n / 1e6).toFixed(2);
  const rows: [string, number][] = [
    ['originals (JPEG)', r.bytes.originals],
    ['originals (JPEG XL)', r.bytes.jxlOriginals],
    ...Object.entries(r.bytes.sizes)
      .sort(([, a], [, b]) => b - a)
      .map(([s, b]): [string, number] => [`size ${s}`, b]),
    ...Object.entries(r.bytes.variants)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([f, b]): [string, number] => [`sizes as ${f.toUpperCase()}`, b]),
    ['quarantined', r.bytes.quarantined],
    ['other (sidecars, verdicts)', r.bytes.other],
    ['total', r.bytes.total],
  ];
  const per = (n: number): string => (r.photos ? (n / r.photos / 1e3).toFixed(1) : '-');
  const lines = [
    `${'kind'.padEnd(28)}${'MB'.padStart(12)}${'KB per photo'.padStart(14)}`,
    ...rows.map(([k, b]) => `${k.padEnd(28)}${mb(b).padStart(12)}${per(b).padStart(14)}`),
  ];
  lines.push(`photos: ${r.photos}; saved by JPEG XL originals ${mb(r.saved.lossless)} MB, by perceptual sizes ${mb(r.saved.perceptual)} MB`);
  return `${lines.join('\n')}\n`;
}
