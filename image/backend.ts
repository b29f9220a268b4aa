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

/** 8-bit RGBA pixels in an image's own colour space (no profile applied): what the perceptual method scores against. */
export interface RawPixels {
  data: Buffer;
  width: number;
  height: number;
}

/** How one encoding of a size is made: the JPEG `EncodeOptions` describe, or a variant (AVIF, WebP). */
export type SizeEncoding = { format: 'jpeg'; jpeg: EncodeOptions } | VariantEncode;

/**
 * A size resized and not yet encoded: every encoding of it is made from these pixels
 * (one decode, one Lanczos pass), and scored against them.
 */
export interface PreparedSize {
  readonly width: number;
  readonly height: number;
  /** The uncompressed resize, as every encoding of it is compared with. */
  reference(): Promise<RawPixels>;
  encode(how: SizeEncoding): Promise<Buffer>;
}

export interface ResizeBackend {
  readonly name: string;
  /** The size made as `resize` makes it, kept unencoded for several encodings of it. */
  prepare(input: Buffer, spec: ResizeSpec): Promise<PreparedSize>;
  /** Lanczos3 down to `spec`, then a mild sharpen; honours EXIF orientation; sRGB (a wide-gamut RGB source keeps its profile, tagged); only the copyright and artist fields of the metadata kept. Never enlarges. The JPEG `encode` describes, or the `variant` (AVIF, WebP) of the same resize. */
  resize(input: Buffer, spec: ResizeSpec, encode: EncodeOptions, variant?: VariantEncode): Promise<ResizeOutput>;
}

/** A source that is not a decodable image: a permanent failure, not worth a retry. */
export class CorruptImageError extends HearthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HEARTH_ERR_CORRUPT_IMAGE', message, options);
  }
}
