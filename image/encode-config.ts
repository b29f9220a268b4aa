/** The JPEG encoding settings every tier that writes a resize shares (resize worker, origin on-the-fly). */
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
