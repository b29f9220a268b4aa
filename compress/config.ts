import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';
import { kafkaSection } from '../kafka/index.js';
import { DEFAULT_LADDER, perceptualSection } from '../image/index.js';
import { maxReadBytesOption, storeOption } from '../store/index.js';

export const CompressConfigSchema = Type.Object(
  {
    kafka: kafkaSection('hearth-compress'),
    store: storeOption('resizes are read and their smaller versions written there'),
    maxReadBytes: maxReadBytesOption(),
    jobs: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'resizes compressed at once' }),
    perceptual: perceptualSection(
      DEFAULT_LADDER.map((s) => s.name),
      'ladder sizes to compress; events for others are acknowledged and counted as skipped (the large sizes cost most CPU: ~2 s a 2048 px resize)',
    ),
    http: httpSection(9466),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type CompressConfig = Static<typeof CompressConfigSchema>;

const validator = new Validator(CompressConfigSchema, 'compress config');

/** `overrides` (flags) are merged deep onto the file (or the defaults). */
export function loadCompressConfig(file?: string, overrides: Record<string, unknown> = {}): CompressConfig {
  return loadConfig({
    what: 'compress config',
    validator,
    file,
    overrides,
    semantic: (c) => (c.perceptual.minQuality > c.perceptual.maxQuality ? ['perceptual.minQuality: above perceptual.maxQuality'] : []),
  });
}
