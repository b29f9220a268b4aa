/** Backfill's config: which originals, where to, how fast. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, loadConfig, logSection } from '../common/index.js';
import { producerSection } from '../kafka/index.js';
import { storeOption } from '../store/index.js';

export const BackfillConfigSchema = Type.Object(
  {
    store: storeOption('its originals are listed and announced'),
    list: Type.Optional(Type.String({ minLength: 1, description: 'a file of `<id> <store path>` lines to backfill instead of walking the store' })),
    kafka: producerSection(),
    rate: Type.Number({ exclusiveMinimum: 0, default: 500, description: 'messages per second' }),
    batch: Type.Integer({ minimum: 1, maximum: 100_000, default: 100, description: 'messages per send (and per checkpoint)' }),
    checkpoint: Type.String({ minLength: 1, default: '.state/backfill.json', description: 'progress file, written after each acknowledged batch' }),
    progress: Type.Boolean({ default: true, description: 'a progress bar on a terminal (else one line per 10 %)' }),
    log: Type.Object({ level: logSection().properties.level }, { additionalProperties: false, default: { level: 'warn' } }),
  },
  { additionalProperties: false },
);
export type BackfillConfig = Static<typeof BackfillConfigSchema>;

const validator = new Validator(BackfillConfigSchema, 'backfill config');

export function loadBackfillConfig(file?: string, overrides: Record<string, unknown> = {}): BackfillConfig {
  return loadConfig({ what: 'backfill config', validator, file, overrides });
}
