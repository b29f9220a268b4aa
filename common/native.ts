/**
 * The native helpers infra/setup.sh builds into `.cache/bin/`, found one way for all: the
 * environment's `HEARTH_<NAME>` is `off` (Hearth does the work without it: undici pushes,
 * the JavaScript matcher, djxl) or a path to use instead (a sanitizer build, say); unset,
 * the one setup built, where it was built.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { HEARTH_HOME } from './cli-path.js';

export interface NativeHelper {
  /** The switch and path in the environment: `HEARTH_PUSH`. */
  readonly env: string;
  /** What setup builds, under `.cache/bin/`. */
  readonly file: string;
  /** An earlier name of `env` that still points to a path. */
  readonly formerly?: string;
}

export const NATIVE_HELPERS = {
  /** The native push client and hint socket (warmer/native/). */
  push: { env: 'HEARTH_PUSH', file: 'hearth-push.node', formerly: 'HEARTH_PUSH_ADDON' },
  /** The matching engine of the identity tier (identity/native/). */
  match: { env: 'HEARTH_MATCH', file: 'hearth-match.node' },
  /** JPEG XL reconstruction and verification (image/native/hearth-jxl.c). */
  jxl: { env: 'HEARTH_JXL', file: 'hearth-jxl' },
} as const satisfies Record<string, NativeHelper>;

/** Where the helper is looked for now (read at each call: tests point the environment elsewhere). */
export function nativeWhere(h: NativeHelper): string {
  const set = process.env[h.env] ?? (h.formerly ? process.env[h.formerly] : undefined);
  return set && set !== 'off' ? set : join(HEARTH_HOME, '.cache', 'bin', h.file);
}

/** The helper's path, or undefined where it is switched off or not built. */
export function nativePath(h: NativeHelper): string | undefined {
  if (process.env[h.env] === 'off') return undefined;
  const at = nativeWhere(h);
  return existsSync(at) ? at : undefined;
}

const addons = new Map<string, unknown>();

/** A Node addon helper, loaded once; null where it is switched off or not built. */
export function loadAddon<T>(h: NativeHelper): T | null {
  if (!addons.has(h.env)) {
    const at = nativePath(h);
    addons.set(h.env, at ? createRequire(import.meta.url)(at) : null);
  }
  return addons.get(h.env) as T | null;
}
