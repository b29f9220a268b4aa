import { LRUCache } from 'lru-cache';

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
  }

  private static key(colo: string, path: string): string {
    // Paths never hold a space (PathPolicy), so the key is unambiguous.
    return `${colo} ${path}`;
  }

  /** True if the pair is new (and now claimed); false if it is a duplicate. */
  claim(colo: string, path: string): boolean {
    const key = Dedup.key(colo, path);
    if (this.cache.has(key)) return false;
    this.cache.set(key, true);
    return true;
  }

  /** Forgets a pair whose push failed or never happened, so a later hint may try again. */
  release(colo: string, path: string): void {
    this.cache.delete(Dedup.key(colo, path));
  }

  get size(): number {
    return this.cache.size;
  }
}
