/** Config sections every Kafka worker has, defined once (resize, compress, ...). */
import { readFileSync } from 'node:fs';
import { Type, type TSchema, type Static } from '@sinclair/typebox';
import { ValidationError, Validator } from '../common/schema.js';

export const kafkaSection = (groupId: string) =>
  Type.Object(
    {
      brokers: Type.Array(Type.String({ pattern: '^[^\\s:]+:\\d{1,5}$' }), { minItems: 1, default: ['127.0.0.1:9092'], description: 'Kafka bootstrap brokers' }),
      groupId: Type.String({ minLength: 1, default: groupId, description: 'consumer group: add workers with the same group to scale out' }),
      sessionTimeoutMs: Type.Integer({ minimum: 6000, maximum: 300000, default: 30000, description: 'how long a dead worker keeps its partitions before the group rebalances' }),
      partitions: Type.Integer({ minimum: 1, maximum: 1024, default: 8, description: 'partitions of topics this worker creates when missing' }),
    },
    { additionalProperties: false, default: {} },
  );

export const httpSection = (port: number) =>
  Type.Object(
    {
      host: Type.String({ default: '127.0.0.1', description: 'address of `/metrics` and `/healthz`' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: port, description: 'port of `/metrics` and `/healthz`' }),
    },
    { additionalProperties: false, default: {} },
  );

export const logSection = () =>
  Type.Object(
    { level: Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('silent')], { default: 'info', description: 'pino log level' }) },
    { additionalProperties: false, default: {} },
  );

/** Reads an optional JSON config file, applies overrides, fills defaults, validates: one error naming every bad field. */
export function loadWorkerConfig<T extends TSchema>(validator: Validator<T>, what: string, file: string | undefined, overrides: Record<string, unknown>): Static<T> {
  let raw: Record<string, unknown> = {};
  if (file) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ValidationError(`${what} ${file}`, [(err as Error).message]);
    }
  }
  return validator.parse({ ...raw, ...overrides });
}
