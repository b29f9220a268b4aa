/**
 * Rendezvous (highest-random-weight) hashing: each path goes to the node with the
 * highest score for it. Adding a node moves only the paths the new node wins
 * (about 1/n of them), so every other warmer's dedup state stays valid.
 */

/** FNV-1a, 32 bit: cheap, and good enough once finished by fmix32. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: full avalanche, so nearby inputs get unrelated scores. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Rendezvous<T> {
  private readonly seeds: Uint32Array;

  /** `ids` name the nodes (e.g. "host:port"); a node's score depends only on its id. */
  constructor(
    readonly nodes: readonly T[],
    ids: readonly string[],
  ) {
    if (nodes.length === 0) throw new TypeError('Rendezvous needs at least one node');
    if (ids.length !== nodes.length) throw new TypeError('Rendezvous needs one id per node');
    this.seeds = Uint32Array.from(ids, (id) => fmix32(fnv1a32(id)));
  }

  /** Index of the node that owns `key`. */
  pick(key: string): number {
    const n = this.seeds.length;
    if (n === 1) return 0;
    const h = fnv1a32(key);
    let best = 0;
    let bestScore = -1;
    for (let i = 0; i < n; i++) {
      const score = fmix32(h ^ (this.seeds[i] as number));
      // Ties break on the lower index, which is stable across calls.
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  }
}
