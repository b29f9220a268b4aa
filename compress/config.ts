import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { ValidationError, Validator } from '../common/schema.js';

export const CompressConfigSchema = Type.Object(
  {
    kafka: Type.Object(
      {
        brokers: Type.Array(Type.String({ pattern: '^[^\\s:]+:\\d{1,5}$' }), { minItems: 1, default: ['127.0.0.1:9092'], description: 'Kafka bootstrap brokers' }),
        groupId: Type.String({ minLength: 1, default: 'hearth-compress', description: 'consumer group' }),
        sessionTimeoutMs: Type.Integer({ minimum: 6000, maximum: 300000, default: 30000, description: 'how long a dead worker keeps its partitions' }),
        partitions: Type.Integer({ minimum: 1, maximum: 1024, default: 8, description: 'partitions of topics this worker creates when missing' }),
      },
      { additionalProperties: false, default: {} },
    ),
    store: Type.String({ minLength: 1, default: '.cache/store', description: 'the store root' }),
    jobs: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'resizes compressed at once' }),
    perceptual: Type.Object(
      {
        target: Type.Number({ minimum: 0.5, maximum: 1, default: 0.985, description: 'SSIM the recompressed resize must keep against the stored one' }),
        minQuality: Type.Integer({ minimum: 1, maximum: 100, default: 40, description: 'lowest JPEG quality tried' }),
        maxQuality: Type.Integer({ minimum: 1, maximum: 100, default: 90, description: 'highest JPEG quality tried' }),
      },
      { additionalProperties: false, default: {} },
    ),
    http: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'address of `/metrics` and `/healthz`' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 9466, description: 'port of `/metrics` and `/healthz`' }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      { level: Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('silent')], { default: 'info', description: 'pino log level' }) },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type CompressConfig = Static<typeof CompressConfigSchema>;

const validator = new Validator(CompressConfigSchema, 'compress config');

export function loadCompressConfig(file?: string, overrides: Partial<CompressConfig> = {}): CompressConfig {
  let raw: Record<string, unknown> = {};
  if (file) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ValidationError(`compress config ${file}`, [(err as Error).message]);
    }
  }
  const c = validator.parse({ ...raw, ...overrides });
  if (c.perceptual.minQuality > c.perceptual.maxQuality) throw new ValidationError('compress config', ['perceptual.minQuality: above perceptual.maxQuality']);
  return c;
}
