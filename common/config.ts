/** Config sections every daemon has (its HTTP status side, its log), and the one way to load a config file. */
import { readFileSync } from 'node:fs';
import { Type, type TSchema, type Static } from '@sinclair/typebox';
import { ValidationError, Validator } from './schema.js';

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
