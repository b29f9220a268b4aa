/** The JPEG encoding settings every tier that writes a resize shares (resize worker, origin on-the-fly), and the perceptual pass's. */
import { Type } from '@sinclair/typebox';
import { DEFAULT_VARIANT_ENCODE, MAX_EFFORT, VARIANT_FORMATS, type VariantFormat } from './formats.js';

export const jpegSection = (what = 'JPEG quality') =>
  Type.Object(
    {
      quality: Type.Integer({ minimum: 1, maximum: 100, default: 85, description: what }),
      progressive: Type.Boolean({ default: true, description: 'progressive JPEG' }),
      chromaSubsampling: Type.Union([Type.Literal('4:2:0'), Type.Literal('4:4:4')], { default: '4:2:0', description: 'chroma subsampling' }),
    },
    { additionalProperties: false, default: {} },
  );

/** The perceptual pass's settings (the resize tier runs it before a size is stored; the perceptual worker on what was stored without it). */
export const perceptualSection = (sizes: readonly string[], which: string) =>
  Type.Object(
    {
      target: Type.Number({ minimum: 0.5, maximum: 1, default: 0.985, description: 'SSIM the recompressed resize must keep against the resize as made' }),
      minQuality: Type.Integer({ minimum: 1, maximum: 100, default: 40, description: 'lowest JPEG quality tried' }),
      maxQuality: Type.Integer({ minimum: 1, maximum: 100, default: 95, description: 'highest JPEG quality tried' }),
      sizes: Type.Array(Type.String({ pattern: '^[a-z]{1,3}$' }), { default: [...sizes], description: which }),
      mozjpeg: Type.Boolean({
        default: true,
        description: "encode with mozjpeg's trellis quantisation and optimised scans (smaller at the same SSIM, ~2× slower to encode)",
      }),
    },
    { additionalProperties: false, default: {} },
  );

const searchRange = (format: VariantFormat, min: number, max: number) =>
  Type.Object(
    {
      minQuality: Type.Integer({ minimum: 1, maximum: 100, default: min, description: `lowest ${format} quality tried` }),
      maxQuality: Type.Integer({
        minimum: 1,
        maximum: 100,
        default: max,
        description: `highest ${format} quality tried (where even it scores below the JPEG, the class gets the JPEG)`,
      }),
      effort: Type.Integer({
        minimum: 0,
        maximum: MAX_EFFORT[format],
        default: DEFAULT_VARIANT_ENCODE[format].effort,
        description: `${format} encoder effort (0 fastest, ${MAX_EFFORT[format]} smallest; the origin's by default)`,
      }),
    },
    { additionalProperties: false, default: {} },
  );

/**
 * The AVIF and WebP the resize tier stores beside a size's JPEG, each at its own image's
 * quality: the lowest that scores as the JPEG does against the uncompressed resize.
 * The ranges hold every quality found for that score on the corpus's photographs (AVIF
 * 49–64, WebP 46–87 across the stored sizes) with room on both sides.
 */
export const variantSearchSection = (sizes: readonly string[]) =>
  Type.Object(
    {
      formats: Type.Array(Type.Union(VARIANT_FORMATS.map((f) => Type.Literal(f))), {
        uniqueItems: true,
        default: [...VARIANT_FORMATS],
        description: "encodings stored beside each size of `sizes`, quality searched per image (keep in line with the origin's `formats.serve`)",
      }),
      sizes: Type.Array(Type.String({ pattern: '^[a-z]{1,3}$' }), {
        default: [...sizes],
        description:
          'sizes that get their variants at upload, where they are also in `storedSizes`; the origin makes the others on their first request, at its one quality per format',
      }),
      avif: searchRange('avif', 20, 90),
      webp: searchRange('webp', 30, 98),
    },
    { additionalProperties: false, default: {} },
  );
