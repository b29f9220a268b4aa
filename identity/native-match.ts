/**
 * The native half of the matching engine (identity/native/hearth-match.c, a Node-API
 * addon setup builds with -O3 -march=native into .cache/bin). Where it is not built,
 * the Hamming index searches in JavaScript with the same answers, and the L2 engine
 * says how to build it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface NativeMatches {
  index: Uint32Array;
  distance: Uint32Array;
}

export interface NativeMatch {
  l2Build(vectors: Uint8Array): unknown;
  l2Search(index: unknown, query: Uint8Array, threshold: number): NativeMatches;
  l2Scan(vectors: Uint8Array, query: Uint8Array, threshold: number): number;
  hammingSearch(words: Uint32Array, starts: Uint32Array, entries: Uint32Array, seen: Uint32Array, stamp: number, query: Uint32Array, threshold: number): NativeMatches;
  /** `avx2`, or `none` where the CPU it was built on has no AVX2. */
  simd: string;
}

export const NATIVE_MATCH = process.env.HEARTH_MATCH ?? fileURLToPath(new URL('../../.cache/bin/hearth-match.node', import.meta.url));

let loaded: NativeMatch | null | undefined;

/** The addon, or null where it is not built (or HEARTH_MATCH=off). */
export function nativeMatch(): NativeMatch | null {
  if (loaded === undefined) loaded = process.env.HEARTH_MATCH === 'off' || !existsSync(NATIVE_MATCH) ? null : (createRequire(import.meta.url)(NATIVE_MATCH) as NativeMatch);
  return loaded;
}

export const fromNative = (m: NativeMatches): { index: number; distance: number }[] => Array.from(m.index, (index, k) => ({ index, distance: m.distance[k] as number }));
