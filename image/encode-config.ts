/** The JPEG encoding settings every tier that writes a resize shares (resize worker, origin on-the-fly), and the perceptual pass's. */
import { Type } from '@sinclair/typebox';

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
