/**
 * Resize backends behind one small interface (buffer + spec → buffer), chosen by a
 * config switch. The CPU backend is sharp (libvips); a GPU (CUDA) backend plugs in here.
 */
import { HearthError } from '../common/index.js';
import type { VariantEncode } from './formats.js';
export interface ResizeSpec {
  /** Longest side, or the square's side. */
  size: number;
  square: boolean;
}

export interface EncodeOptions {
  quality: number;
  progressive: boolean;
  chromaSubsampling: '4:2:0' | '4:4:4';
}

export interface ResizeOutput {
  data: Buffer;
  width: number;
  height: number;
}

export interface ResizeBackend {
  readonly name: string;
  /** Lanczos3 down to `spec`, then a mild sharpen; honours EXIF orientation; sRGB (a wide-gamut RGB source keeps its profile, tagged); only the copyright and artist fields of the metadata kept. Never enlarges. The JPEG `encode` describes, or the `variant` (AVIF, WebP) of the same resize. */
  resize(input: Buffer, spec: ResizeSpec, encode: EncodeOptions, variant?: VariantEncode): Promise<ResizeOutput>;
}

/** A source that is not a decodable image: a permanent failure, not worth a retry. */
export class CorruptImageError extends HearthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HEARTH_ERR_CORRUPT_IMAGE', message, options);
  }
}
