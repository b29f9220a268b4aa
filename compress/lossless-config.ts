/** Config of a lossless batch (`hearth compress originals`) and of a scrub (`hearth compress scrub`). */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, loadConfig, logSection } from '../common/index.js';
import { maxReadBytesOption, stateDirOption, storeOption } from '../store/index.js';

const common = {
  store: storeOption('originals (and their JPEG XL) are read and written there'),
  maxReadBytes: maxReadBytesOption('a larger one is skipped (the batch: `skipped_policy`) or reported (the scrub), never read'),
  metricsFile: Type.Optional(
    Type.String({ minLength: 1, description: "write metrics here in Prometheus text format (node_exporter's textfile collector), every 10 s and at the end" }),
  ),
  log: logSection(),
};

export const LosslessConfigSchema = Type.Object(
  {
    ...common,
    dir: Type.String({ minLength: 1, default: 'originals', description: 'where the originals are, under the store' }),
    olderThanDays: Type.Optional(Type.Number({ minimum: 0, description: 'only originals not modified for this many days' })),
    largerThan: Type.Optional(Type.Integer({ minimum: 0, description: 'only originals larger than this many bytes' })),
    list: Type.Optional(Type.String({ minLength: 1, description: 'only the store paths listed in this file (one per line)' })),
    jobs: Type.Integer({ minimum: 1, maximum: 256, default: 2, description: 'files at once' }),
    stateDir: stateDirOption('where the batch keeps its run lock and its ledger of refused originals'),
    effort: Type.Integer({ minimum: 1, maximum: 9, default: 3, description: 'cjxl effort (3 is as small as 5-7 for JPEG transcodes here, much faster)' }),
  },
  { additionalProperties: false },
);
export type LosslessConfig = Static<typeof LosslessConfigSchema>;

export const ScrubConfigSchema = Type.Object(
  {
    ...common,
    dir: Type.Optional(Type.String({ minLength: 1, description: 'only under this directory of the store (default: all of it)' })),
    rateMBs: Type.Number({ exclusiveMinimum: 0, default: 20, description: '.jxl megabytes read per second at most' }),
    adopt: Type.Boolean({ default: false, description: 'record a digest for .jxl files that have none, when their reconstruction decodes completely' }),
  },
  { additionalProperties: false },
);
export type ScrubConfig = Static<typeof ScrubConfigSchema>;

const losslessValidator = new Validator(LosslessConfigSchema, 'lossless config');
const scrubValidator = new Validator(ScrubConfigSchema, 'scrub config');

export function loadLosslessConfig(file?: string, overrides: Record<string, unknown> = {}): LosslessConfig {
  return loadConfig({ what: 'lossless config', validator: losslessValidator, file, overrides });
}

export function loadScrubConfig(file?: string, overrides: Record<string, unknown> = {}): ScrubConfig {
  return loadConfig({ what: 'scrub config', validator: scrubValidator, file, overrides });
}
