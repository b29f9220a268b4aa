import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';
import { kafkaSection } from '../kafka/index.js';
import { DEFAULT_LADDER, DEFAULT_STORED_SIZES, jpegSection, perceptualSection, variantSearchSection, VARIANT_FORMATS } from '../image/index.js';
import { maxReadBytesOption, storeOption } from '../store/index.js';

export const ResizeConfigSchema = Type.Object(
  {
    kafka: kafkaSection('hearth-resize'),
    store: storeOption('sources are read and sizes written there'),
    backend: Type.Union([Type.Literal('cpu'), Type.Literal('gpu')], { default: 'cpu', description: '`cpu` (sharp/libvips); `gpu` (CUDA) is not built yet' }),
    maxReadBytes: maxReadBytesOption(),
    jobs: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'images resized at once (partitions consumed concurrently)' }),
    threadsPerJob: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 2,
      description: 'libvips threads per image (2 jobs × 2 threads measured best on 2 cores, with 3 × 1)',
    }),
    storedSizes: Type.Array(Type.String({ pattern: '^[a-z]$' }), {
      minItems: 1,
      uniqueItems: true,
      default: [...DEFAULT_STORED_SIZES],
      description:
        'the ladder sizes stored at upload (the origin makes the others on demand, from the largest stored size at least as large, else from the original); the default is chosen by `npm run bench -- sizes`',
    }),
    jpeg: jpegSection(),
    perceptual: perceptualSection(
      DEFAULT_STORED_SIZES,
      'stored sizes that get the perceptual pass before they are stored, so a size is never replaced once it could be served (one URL, one set of bytes); the others are stored as made',
    ),
    variants: variantSearchSection(DEFAULT_STORED_SIZES),
    http: httpSection(9465),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type ResizeConfig = Static<typeof ResizeConfigSchema>;

const validator = new Validator(ResizeConfigSchema, 'resize config');

/** `overrides` (flags) are merged deep onto the file (or the defaults). */
export function loadResizeConfig(file?: string, overrides: Record<string, unknown> = {}): ResizeConfig {
  return loadConfig({
    what: 'resize config',
    validator,
    file,
    overrides,
    semantic: (c) => [
      ...(c.backend === 'gpu' ? ['backend: "gpu" is not built yet (no GPU machine was available to build and test it); use "cpu"'] : []),
      ...c.storedSizes
        .filter((s) => !DEFAULT_LADDER.some((l) => l.name === s))
        .map((s) => `storedSizes: "${s}" is not a size of the ladder (${DEFAULT_LADDER.map((l) => l.name).join(', ')})`),
      ...VARIANT_FORMATS.filter((f) => c.variants[f].minQuality > c.variants[f].maxQuality).map(
        (f) => `variants.${f}.minQuality: above variants.${f}.maxQuality`,
      ),
    ],
  });
}
