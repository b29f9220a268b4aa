/**
 * The encodings of a size, beyond JPEG: which one a client gets (its format class, one
 * definition shared with api-hook), under which cache key, and how each is encoded.
 */
import { Type, type Static } from '@sinclair/typebox';
import { FORMAT_CLASSES, VARIANT_FORMATS, type FormatClass, type VariantFormat } from '@hearth/api-hook';
import { heifKind, isHeif } from './heif.js';

export {
  FORMAT_CLASSES,
  VARIANT_FORMATS,
  DEFAULT_FORMAT_CLASS,
  FORMAT_MEDIA_TYPES,
  FORMAT_ACCEPT_PATTERNS,
  CLASS_ACCEPT,
  formatClass,
  isFormatClass,
} from '@hearth/api-hook';
export type { FormatClass, VariantFormat } from '@hearth/api-hook';

/**
 * The cache key of a path's object of one class. The JPEG keeps the bare path, the key
 * from before classes: a cache upgraded in place keeps every object it holds. `|` is
 * never in an image path (image/store.ts), so no key of one path is another's.
 */
export const cacheKey = (path: string, format: FormatClass): string => (format === 'jpeg' ? path : `${path}|${format}`);

/** Every key a cache may hold a path under: what a purge removes. */
export const cacheKeys = (path: string): string[] => FORMAT_CLASSES.map((f) => cacheKey(path, f));

export interface VariantEncode {
  format: VariantFormat;
  /** The encoder's quality scale (libaom's via libheif for AVIF, libwebp's for WebP). */
  quality: number;
  /** CPU spent for bytes saved: AVIF 0–9, WebP 0–6. */
  effort: number;
}

/** Qualities at which each variant scores as the JPEG of the same size does (docs/formats.md); efforts by encode time. */
export const DEFAULT_VARIANT_ENCODE: Readonly<Record<VariantFormat, { quality: number; effort: number }>> = {
  avif: { quality: 67, effort: 3 },
  webp: { quality: 83, effort: 4 },
};
export const MAX_EFFORT: Readonly<Record<VariantFormat, number>> = { avif: 9, webp: 6 };

const variantOptions = (format: VariantFormat) =>
  Type.Object(
    {
      quality: Type.Integer({
        minimum: 1,
        maximum: 100,
        default: DEFAULT_VARIANT_ENCODE[format].quality,
        description: `${format} quality (chosen to score as the JPEG of the same size does: docs/formats.md)`,
      }),
      effort: Type.Integer({
        minimum: 0,
        maximum: MAX_EFFORT[format],
        default: DEFAULT_VARIANT_ENCODE[format].effort,
        description: `${format} encoder effort (0 fastest, ${MAX_EFFORT[format]} smallest)`,
      }),
    },
    { additionalProperties: false, default: {} },
  );

/** Which classes a service makes, and how; a class not made is answered with the next best one that is (its Content-Type says which). */
export const formatsSection = () =>
  Type.Object(
    {
      serve: Type.Array(Type.Union(VARIANT_FORMATS.map((f) => Type.Literal(f))), {
        uniqueItems: true,
        default: [...VARIANT_FORMATS],
        description: 'the encodings besides JPEG made for clients that accept them',
      }),
      avif: variantOptions('avif'),
      webp: variantOptions('webp'),
    },
    { additionalProperties: false, default: {} },
  );
export type FormatsConfig = Static<ReturnType<typeof formatsSection>>;

export const DEFAULT_FORMATS: FormatsConfig = { serve: [...VARIANT_FORMATS], ...DEFAULT_VARIANT_ENCODE };

/** What a client of class `want` is sent, given what is made: its own class, else the next best made, else the JPEG. */
export function servedFormat(want: FormatClass, config: Pick<FormatsConfig, 'serve'>): FormatClass {
  for (const f of FORMAT_CLASSES.slice(FORMAT_CLASSES.indexOf(want))) if (f === 'jpeg' || config.serve.includes(f)) return f;
  return 'jpeg';
}

/** How `format` is encoded under `config`. */
export const variantEncode = (format: VariantFormat, config: FormatsConfig): VariantEncode => ({ format, ...config[format] });

/**
 * The encoding of a stored size's bytes, by their first bytes: what its Content-Type
 * says. A class's stored object may be the JPEG itself, where no encoding of that class
 * was smaller at the same score (resize/worker.ts).
 */
export function storedEncoding(data: Buffer): FormatClass | undefined {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (isHeif(data) && heifKind(data) === 'avif') return 'avif';
  return undefined;
}
