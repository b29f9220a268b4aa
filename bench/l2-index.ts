/**
 * Exact search over 144-byte vectors by squared Euclidean distance within a threshold
 * (Cloudflare's fuzzy hashes): every vector within the threshold is returned. The search
 * runs in the native addon (blocked, transposed, SIMD, leaving a block as soon as all of
 * it is over the threshold; see identity/native/hearth-match.c); `l2Scan` is the plain
 * JavaScript scan the engine is checked and measured against.
 */
import { HearthError } from '../common/index.js';
import { NATIVE_MATCH, fromNative, nativeMatch } from '../identity/native-match.js';

export const L2_DIMS = 144;

export interface L2Match {
  /** Position of the vector in the database. */
  index: number;
  /** Squared Euclidean distance. */
  distance: number;
}

const byDistance = (a: L2Match, b: L2Match): number => a.distance - b.distance || a.index - b.index;

function checkQuery(query: Uint8Array): void {
  if (query.length !== L2_DIMS) throw new RangeError(`query: ${query.length} bytes, not ${L2_DIMS}`);
}

export class L2Index {
  private readonly native: NonNullable<ReturnType<typeof nativeMatch>>;
  private readonly handle: unknown;
  readonly size: number;

  /** `vectors`: n × 144 bytes, vector i at [144 i, 144 i + 144). */
  constructor(vectors: Uint8Array) {
    if (vectors.length % L2_DIMS !== 0) throw new RangeError(`vectors: ${vectors.length} bytes, not a multiple of ${L2_DIMS}`);
    const native = nativeMatch();
    if (!native) throw new HearthError('HEARTH_ERR_VERIFIER', `the matching engine's native addon is not built (${NATIVE_MATCH}); run: bash infra/setup.sh`);
    this.native = native;
    this.handle = native.l2Build(vectors);
    this.size = vectors.length / L2_DIMS;
  }

  /** Every vector within `threshold` (squared distance) of `query`, nearest first. */
  search(query: Uint8Array, threshold: number): L2Match[] {
    checkQuery(query);
    return fromNative(this.native.l2Search(this.handle, query, threshold)).sort(byDistance);
  }
}

/** The plain scan: every vector, every dimension. */
export function l2Scan(vectors: Uint8Array, query: Uint8Array, threshold: number): L2Match[] {
  checkQuery(query);
  const out: L2Match[] = [];
  for (let i = 0, base = 0; base < vectors.length; i++, base += L2_DIMS) {
    let s = 0;
    for (let d = 0; d < L2_DIMS; d++) {
      const diff = (vectors[base + d] as number) - (query[d] as number);
      s += diff * diff;
    }
    if (s <= threshold) out.push({ index: i, distance: s });
  }
  return out.sort(byDistance);
}
