/** `hearth upload`'s config: the store and the broker. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, loadConfig, logSection } from '../common/index.js';
import { producerSection } from '../kafka/index.js';
import { storeOption } from '../store/index.js';

export const UploadConfigSchema = Type.Object(
  {
    store: storeOption('originals go under `/originals/`'),
    kafka: producerSection(),
    log: logSection(),
  },
  { additionalProperties: false },
);
export type UploadConfig = Static<typeof UploadConfigSchema>;

const validator = new Validator(UploadConfigSchema, 'upload config');

export function loadUploadConfig(file?: string, overrides: Record<string, unknown> = {}): UploadConfig {
  return loadConfig({ what: 'upload config', validator, file, overrides });
}
