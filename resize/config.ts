import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { ValidationError, Validator } from '../common/schema.js';

export const ResizeConfigSchema = Type.Object(
  {
    kafka: Type.Object(
      {
        brokers: Type.Array(Type.String({ pattern: '^[^\\s:]+:\\d{1,5}$' }), { minItems: 1, default: ['127.0.0.1:9092'], description: 'Kafka bootstrap brokers' }),
        groupId: Type.String({ minLength: 1, default: 'hearth-resize', description: 'consumer group: add workers with the same group to scale out' }),
        sessionTimeoutMs: Type.Integer({ minimum: 6000, maximum: 300000, default: 30000, description: 'how long a dead worker keeps its partitions before the group rebalances' }),
        partitions: Type.Integer({ minimum: 1, maximum: 1024, default: 8, description: 'partitions of topics this worker creates when missing' }),
      },
      { additionalProperties: false, default: {} },
    ),
    store: Type.String({ minLength: 1, default: '.cache/store', description: 'the store root: sources are read and sizes written under it' }),
    backend: Type.Union([Type.Literal('cpu'), Type.Literal('gpu')], { default: 'cpu', description: '`cpu` (sharp/libvips); `gpu` (CUDA) is not built yet' }),
    jobs: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'images resized at once (partitions consumed concurrently)' }),
    threadsPerJob: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'libvips threads per image (2 jobs × 2 threads measured best on 2 cores, with 3 × 1)' }),
    jpeg: Type.Object(
      {
        quality: Type.Integer({ minimum: 1, maximum: 100, default: 85, description: 'JPEG quality' }),
        progressive: Type.Boolean({ default: true, description: 'progressive JPEG' }),
        chromaSubsampling: Type.Union([Type.Literal('4:2:0'), Type.Literal('4:4:4')], { default: '4:2:0', description: 'chroma subsampling' }),
      },
      { additionalProperties: false, default: {} },
    ),
    http: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'address of `/metrics` and `/healthz`' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 9465, description: 'port of `/metrics` and `/healthz`' }),
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
export type ResizeConfig = Static<typeof ResizeConfigSchema>;

const validator = new Validator(ResizeConfigSchema, 'resize config');

export function loadResizeConfig(file?: string, overrides: Partial<ResizeConfig> = {}): ResizeConfig {
  let raw: Record<string, unknown> = {};
  if (file) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ValidationError(`resize config ${file}`, [(err as Error).message]);
    }
  }
  const c = validator.parse({ ...raw, ...overrides });
  if (c.backend === 'gpu') throw new ValidationError('resize config', ['backend: "gpu" is not built yet; use "cpu"']);
  return c;
}
