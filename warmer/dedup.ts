import { LRUCache } from 'lru-cache';
import type { FormatClass } from '@hearth/api-hook';

/** No real key is empty: real keys are `colo class path`. */
const SENTINEL = '';

/**
 * Remembers (colo, path) pairs pushed or under way. Both bounds are set, so a flood
 * of distinct paths evicts the least recently seen instead of growing memory.
 */
export class Dedup {
  private readonly cache: LRUCache<string, true>;

  constructor(opts: { max: number; ttlMs: number; now?: () => number }) {
    const now = opts.now ?? Date.now;
    this.cache = new LRUCache<string, true>({
      max: opts.max,
      ttl: opts.ttlMs,
      // Ask the clock every time: cached readings would make an injected clock lie.
      ttlResolution: 0,
      perf: { now },
    });
    this.keepNonEmpty();
  }

  /**
   * lru-cache clears all of its preallocated arrays (O(max)) when a delete removes
   * its last entry. A warmer with failing pushes and few entries would pay that on
   * every release (3.8 ms each at max = 1e6, measured), so one entry that never
   * expires keeps the cache from emptying. LRU may evict it once the cache is full;
   * it is put back before the next release.
   */
  private keepNonEmpty(): void {
    if (!this.cache.has(SENTINEL)) this.cache.set(SENTINEL, true, { ttl: 0 });
  }

  private static key(colo: string, path: string, format: FormatClass): string {
    // Paths never hold a space (PathPolicy), so the key is unambiguous: one per colo, path and encoding.
    return `${colo} ${format} ${path}`;
  }

  /** True if the pair is new (and now claimed); false if it is a duplicate. */
  claim(colo: string, path: string, format: FormatClass = 'jpeg'): boolean {
    const key = Dedup.key(colo, path, format);
    // get, not has: a duplicate counts as seen and moves to the front, so a flood of new
    // paths evicts the pairs seen longest ago, not hot ones that were merely first.
    if (this.cache.get(key) !== undefined) return false;
    this.cache.set(key, true);
    return true;
  }

  /** Forgets a pair whose push failed or never happened, so a later hint may try again. */
  release(colo: string, path: string, format: FormatClass = 'jpeg'): void {
    this.keepNonEmpty();
    this.cache.delete(Dedup.key(colo, path, format));
  }

  /** Pairs remembered (the sentinel not counted). */
  get size(): number {
    return this.cache.size - (this.cache.has(SENTINEL) ? 1 : 0);
  }
}
