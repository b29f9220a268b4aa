/**
 * One way to validate anything that comes from outside (config files, datagrams,
 * Kafka messages, HTTP bodies): a TypeBox schema, compiled once.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { HearthError } from './errors.js';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';

export class ValidationError extends HearthError {
  constructor(
    readonly what: string,
    readonly problems: readonly string[],
  ) {
    super('HEARTH_ERR_INVALID', `${what} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
}

/** `/push/concurrency` → `push.concurrency`, `/colos/0/name` → `colos[0].name`. */
export function fieldName(pointer: string): string {
  if (pointer === '') return '(root)';
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

function show(value: unknown): string {
  if (value === undefined) return 'missing';
  const s = JSON.stringify(value);
  // JSON.stringify gives undefined only for functions and symbols.
  return s === undefined ? typeof value : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export class Validator<T extends TSchema> {
  private readonly check: TypeCheck<T>;

  constructor(
    readonly schema: T,
    readonly what: string,
  ) {
    this.check = TypeCompiler.Compile(schema);
  }

  /** Hot-path check: no allocation beyond what the compiled function does. */
  is(value: unknown): value is Static<T> {
    return this.check.Check(value);
  }

  /** Every problem, each naming its field, its expectation and what it got. */
  problems(value: unknown): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const e of this.check.Errors(value)) {
      const choices = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf;
      const expected = choices?.every((c) => c.const !== undefined)
        ? `expected one of ${choices.map((c) => JSON.stringify(c.const)).join(', ')}`
        : e.message.toLowerCase();
      const line = `${fieldName(e.path)}: ${expected} (got ${show(e.value)})`;
      // Unions report each branch; one line per field and message is enough.
      if (!seen.has(line)) {
        seen.add(line);
        out.push(line);
      }
    }
    return out;
  }

  /** A copy with the schema's defaults filled in, valid or not. */
  withDefaults(value: unknown): unknown {
    return Value.Default(this.schema, structuredClone(value));
  }

  /** Fills defaults into a copy, then validates; throws one error listing every bad field. */
  parse(value: unknown): Static<T> {
    const filled = this.withDefaults(value);
    if (this.check.Check(filled)) return filled;
    throw new ValidationError(this.what, this.problems(filled));
  }
}
