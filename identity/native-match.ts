/**
 * The native half of the matching engine (identity/native/hearth-match.c, a Node-API
 * addon setup builds with -O3 -march=native into .cache/bin). Where it is not built,
 * the Hamming index searches in JavaScript with the same answers, and the L2 engine
 * says how to build it.
 */
import { NATIVE_HELPERS, loadAddon, nativeWhere } from '../common/index.js';

export interface NativeMatches {
  index: Uint32Array;
  distance: Uint32Array;
}

export interface NativeMatch {
  l2Build(vectors: Uint8Array): unknown;
  l2Search(index: unknown, query: Uint8Array, threshold: number): NativeMatches;
  l2Scan(vectors: Uint8Array, query: Uint8Array, threshold: number): number;
  hammingSearch(
    words: Uint32Array,
    starts: Uint32Array,
    entries: Uint32Array,
    seen: Uint32Array,
    stamp: number,
    query: Uint32Array,
    threshold: number,
  ): NativeMatches;
  /** `avx2`, or `none` where the CPU it was built on has no AVX2. */
  simd: string;
}

/** Where the addon is looked for (`HEARTH_MATCH`: common/native.ts). */
export const NATIVE_MATCH = nativeWhere(NATIVE_HELPERS.match);

/** The addon, or null where it is not built (or HEARTH_MATCH=off). */
export const nativeMatch = (): NativeMatch | null => loadAddon<NativeMatch>(NATIVE_HELPERS.match);

export const fromNative = (m: NativeMatches): { index: number; distance: number }[] =>
  Array.from(m.index, (index, k) => ({ index, distance: m.distance[k] as number }));
