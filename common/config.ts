/**
 * Config, one way for every daemon: a TypeBox schema with defaults, read from a JSON
 * file (or the daemon's embedded defaults), flags applied on top as deep overrides,
 * validated with one error that names every bad field, schema and cross-field alike.
 */
import { readFileSync } from 'node:fs';
import { Type, type TProperties, type TSchema, type Static } from '@sinclair/typebox';
import { ValidationError, type Validator } from './schema.js';

/** `/metrics`, `/healthz` and `/readyz` of a daemon (and what else that listener serves, when `serves` says so). */
export const httpSection = (port: number, serves = '`/metrics`, `/healthz` and `/readyz`') =>
  Type.Object(
    {
      host: Type.String({ default: '127.0.0.1', description: `address of ${serves}` }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: port, description: `port of ${serves}` }),
    },
    { additionalProperties: false, default: {} },
  );

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const logLevel = () =>
  Type.Union(
    LOG_LEVELS.map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino log level' },
  );
/** `log.level`, and what else a daemon's logging takes (`extra`: the warmer's sampling). */
export const logSection = <P extends TProperties = Record<never, never>>(extra?: P) =>
  Type.Object({ level: logLevel(), ...(extra ?? ({} as P)) }, { additionalProperties: false, default: {} });

/** Bounded grace for a graceful stop; a second signal exits at once. `work` says what may finish in it. */
export const shutdownGraceMs = (def = 10_000, work = 'in-flight work') =>
  Type.Integer({
    minimum: 0,
    maximum: 600_000,
    default: def,
    description: `on SIGTERM/SIGINT, how long ${work} may take to finish before the process exits anyway (a second signal exits at once)`,
  });

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `over` onto `base`, member by member at every depth; arrays and scalars replace.
 * (Written out: JSON objects only, ten lines, and a library would bring prototype and
 * class-instance rules this does not need.)
 */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) out[k] = deepMerge(base[k], v);
  return out;
}

/** Sets `value` at a dotted path (`kafka.brokers`) of a plain object, making members on the way. */
export function setPath(target: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = target;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(at[k])) at[k] = {};
    at = at[k] as Json;
  }
  at[keys.at(-1) as string] = value;
}

export interface LoadConfigOptions<T extends TSchema> {
  /** What the config is, for messages: "warmer config". */
  what: string;
  validator: Validator<T>;
  /** Used when no file is given (a daemon's embedded local-stack config); default `{}`. */
  defaults?: unknown;
  file?: string;
  /** Flag values, as a partial config; merged deep. */
  overrides?: Json;
  /** Cross-field rules the schema cannot say. */
  semantic?: (c: Static<T>) => string[];
}

export function loadConfig<T extends TSchema>(o: LoadConfigOptions<T>): Static<T> {
  const what = o.file ? `${o.what} ${o.file}` : o.what;
  let raw: unknown = o.defaults ?? {};
  if (o.file) {
    let text: string;
    try {
      text = readFileSync(o.file, 'utf8');
    } catch (err) {
      throw new ValidationError(what, [`cannot read: ${(err as Error).message}`]);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ValidationError(what, [`not JSON: ${(err as Error).message}`]);
    }
  }
  const merged = o.overrides && Object.keys(o.overrides).length > 0 ? deepMerge(raw, o.overrides) : raw;
  let config: Static<T>;
  try {
    config = o.validator.parse(merged);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    // The cross-field rules too, as far as the fields they read allow: one error names every bad field.
    throw new ValidationError(what, [...err.problems, ...bestEffort(() => o.semantic?.(o.validator.withDefaults(merged)) ?? [])]);
  }
  const problems = o.semantic?.(config) ?? [];
  if (problems.length > 0) throw new ValidationError(what, problems);
  return config;
}

/** Cross-field rules run on a config that failed its schema: whatever they can say, and nothing where a field they read has the wrong type. */
function bestEffort(rules: () => string[]): string[] {
  try {
    return rules().filter((p) => typeof p === 'string');
  } catch {
    return [];
  }
}
