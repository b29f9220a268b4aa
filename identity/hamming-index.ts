/**
 * Exact Hamming search over 256-bit hashes (PDQ) within a threshold: every stored hash
 * within `threshold` bits of the query is found, never an approximation.
 *
 * Multi-index hashing (Norouzi et al.): the 256 bits are cut into 16 chunks of 16 bits,
 * each chunk value indexing a table of the hashes that have it. Two hashes within r
 * bits differ in at most ⌊r / 16⌋ bits in at least one chunk (pigeonhole), so probing,
 * in every table, the query's chunk and the chunks within ⌊r / 16⌋ bits of it finds
 * every match; each candidate is then checked over all 256 bits. For r = 31 that is
 * 16 × 17 buckets; at a million random hashes, ~15 entries each.
 */

import { hamming, popcount32 } from './bits.js';
import { fromNative, nativeMatch } from './native-match.js';

const CHUNKS = 16;
const WORDS = 8;
const BUCKETS = 65_537;

export interface HammingMatch {
  /** Position of the hash in the order it was added. */
  index: number;
  distance: number;
}

export class HammingIndex {
  /** The hashes, 8 big-endian 32-bit words each. */
  private readonly words: Uint32Array;
  /** Per chunk c: bucket start offsets at [c × 65,537 …] into `entries`, and the entries (hash indexes) by chunk value at [c × n …]. */
  private readonly starts: Uint32Array;
  private readonly entries: Uint32Array;
  /** The query each hash was last checked for (a Set per query cost more than the search). */
  private readonly checkedBy: Uint32Array;
  private query = 0;

  /** `hashes`: 32 bytes each, as a list or one after another in one buffer (millions of them: no object per hash). */
  constructor(hashes: readonly Buffer[] | Buffer) {
    const flat = Buffer.isBuffer(hashes);
    if (flat && hashes.length % 32 !== 0) throw new RangeError(`hashes: ${hashes.length} bytes, not a multiple of 32`);
    const n = flat ? hashes.length / 32 : hashes.length;
    this.words = new Uint32Array(n * WORDS);
    this.checkedBy = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const h = flat ? hashes.subarray(i * 32, i * 32 + 32) : (hashes[i] as Buffer);
      if (h.length !== 32) throw new RangeError(`hash ${i}: ${h.length} bytes, not 32`);
      for (let w = 0; w < WORDS; w++) this.words[i * WORDS + w] = h.readUInt32BE(w * 4);
    }
    this.starts = new Uint32Array(CHUNKS * BUCKETS);
    this.entries = new Uint32Array(CHUNKS * n);
    for (let c = 0; c < CHUNKS; c++) {
      const counts = this.starts.subarray(c * BUCKETS, (c + 1) * BUCKETS);
      for (let i = 0; i < n; i++) (counts[this.chunk(i, c) + 1] as number)++;
      for (let v = 0; v < 65_536; v++) counts[v + 1] = (counts[v + 1] as number) + (counts[v] as number);
      const fill = counts.slice(0, 65_536);
      const entries = this.entries.subarray(c * n, (c + 1) * n);
      for (let i = 0; i < n; i++) entries[(fill[this.chunk(i, c)] as number)++] = i;
    }
  }

  get size(): number {
    return this.words.length / WORDS;
  }

  private chunk(i: number, c: number): number {
    const w = this.words[i * WORDS + (c >> 1)] as number;
    return c & 1 ? w & 0xffff : w >>> 16;
  }

  /** Every stored hash within `threshold` bits of `query`, nearest first; in native code when setup built it (`engine: 'js'` to compare). */
  search(query: Buffer, threshold: number, engine: 'auto' | 'js' = 'auto'): HammingMatch[] {
    const q = new Uint32Array(WORDS);
    for (let w = 0; w < WORDS; w++) q[w] = query.readUInt32BE(w * 4);
    if (Math.floor(threshold / CHUNKS) >= 3) throw new RangeError(`threshold ${threshold}: above 47 bits the index would probe most buckets; scan instead`);
    // A new stamp per query; after 2^32 - 1 queries the stamps start over from a clean slate.
    if (++this.query === 0xffffffff) {
      this.checkedBy.fill(0);
      this.query = 1;
    }
    const native = engine === 'auto' ? nativeMatch() : null;
    const out = native
      ? fromNative(native.hammingSearch(this.words, this.starts, this.entries, this.checkedBy, this.query, q, threshold))
      : this.searchJs(q, threshold);
    return out.sort((a, b) => a.distance - b.distance || a.index - b.index);
  }

  private searchJs(q: Uint32Array, threshold: number): HammingMatch[] {
    const radius = Math.floor(threshold / CHUNKS);
    const stamp = this.query;
    const checked = this.checkedBy;
    const n = this.size;
    const out: HammingMatch[] = [];
    const probe = (c: number, value: number): void => {
      const base = c * n;
      for (let e = this.starts[c * BUCKETS + value] as number, end = this.starts[c * BUCKETS + value + 1] as number; e < end; e++) {
        const i = this.entries[base + e] as number;
        if (checked[i] === stamp) continue;
        checked[i] = stamp;
        let d = 0;
        for (let w = 0; w < WORDS && d <= threshold; w++) d += popcount32(((q[w] as number) ^ (this.words[i * WORDS + w] as number)) >>> 0);
        if (d <= threshold) out.push({ index: i, distance: d });
      }
    };
    for (let c = 0; c < CHUNKS; c++) {
      const w = q[c >> 1] as number;
      const value = c & 1 ? w & 0xffff : w >>> 16;
      probe(c, value);
      // Chunk values within `radius` bits: radius 0, 1 or 2 covers thresholds up to 47.
      if (radius >= 1) for (let b = 0; b < 16; b++) probe(c, value ^ (1 << b));
      if (radius >= 2) for (let b = 0; b < 16; b++) for (let b2 = b + 1; b2 < 16; b2++) probe(c, value ^ (1 << b) ^ (1 << b2));
    }
    return out;
  }
}

/**
 * A HammingIndex that takes additions (the identity tier's accepted images): new hashes
 * are scanned directly until they are an eighth of the indexed ones (at least 4,096),
 * then everything is indexed again (0.9 s at a million, once per 125,000 additions).
 */
export class GrowingHammingIndex {
  private readonly hashes: Buffer[] = [];
  private indexed: HammingIndex;

  constructor(hashes: readonly Buffer[] = []) {
    this.hashes.push(...hashes);
    this.indexed = new HammingIndex(this.hashes);
  }

  get size(): number {
    return this.hashes.length;
  }

  /** Adds a hash; returns its position. */
  add(hash: Buffer): number {
    if (hash.length !== 32) throw new RangeError(`hash: ${hash.length} bytes, not 32`);
    this.hashes.push(hash);
    if (this.hashes.length - this.indexed.size > Math.max(4096, this.indexed.size / 8)) this.indexed = new HammingIndex(this.hashes);
    return this.hashes.length - 1;
  }

  search(query: Buffer, threshold: number): HammingMatch[] {
    const out = this.indexed.search(query, threshold);
    for (let i = this.indexed.size; i < this.hashes.length; i++) {
      const distance = hamming(query, this.hashes[i] as Buffer);
      if (distance <= threshold) out.push({ index: i, distance });
    }
    return out.sort((a, b) => a.distance - b.distance || a.index - b.index);
  }
}
