import assert from 'node:assert/strict';
import { Dedup } from '../../warmer/dedup.js';

describe('dedup of (colo, path) with an injected clock', () => {
  let t = 1_000_000;
  const now = (): number => t;

  it('claims a pair once, per colo', () => {
    const d = new Dedup({ max: 100, ttlMs: 1000, now });
    assert.equal(d.claim('sin', '/a'), true);
    assert.equal(d.claim('sin', '/a'), false);
    assert.equal(d.claim('ams', '/a'), true);
    // Per format class too: each encoding of a path is its own cached object.
    assert.equal(d.claim('sin', '/a', 'avif'), true);
    assert.equal(d.claim('sin', '/a', 'avif'), false);
    assert.equal(d.claim('sin', '/a', 'webp'), true);
  });

  it('forgets a pair after its TTL, without real waiting', () => {
    const d = new Dedup({ max: 100, ttlMs: 1000, now });
    d.claim('sin', '/a');
    t += 999;
    assert.equal(d.claim('sin', '/a'), false);
    t += 2;
    assert.equal(d.claim('sin', '/a'), true);
  });

  it('release lets a failed push be tried again', () => {
    const d = new Dedup({ max: 100, ttlMs: 1000, now });
    d.claim('sin', '/a');
    d.release('sin', '/a');
    assert.equal(d.claim('sin', '/a'), true);
  });

  it('counts only real pairs, including after the cache was emptied by releases', () => {
    const d = new Dedup({ max: 10, ttlMs: 1000, now });
    assert.equal(d.size, 0);
    d.claim('sin', '/a');
    assert.equal(d.size, 1);
    d.release('sin', '/a');
    assert.equal(d.size, 0);
    assert.equal(d.claim('sin', '/a'), true);
  });

  it('stays within max, evicting the least recently seen', () => {
    const d = new Dedup({ max: 3, ttlMs: 1e9, now });
    for (const p of ['/1', '/2', '/3', '/4', '/5']) d.claim('sin', p);
    assert.ok(d.size <= 3);
    assert.equal(d.claim('sin', '/1'), true, '/1 was evicted');
  });

  it('a duplicate counts as seen: the pair seen longest ago goes first, not the one claimed first', () => {
    const d = new Dedup({ max: 3, ttlMs: 1e9, now });
    for (const p of ['/1', '/2', '/3']) assert.equal(d.claim('sin', p), true);
    assert.equal(d.claim('sin', '/1'), false, 'a duplicate, seen again');
    assert.equal(d.claim('sin', '/4'), true);
    // FIFO would have evicted /1 here; LRU evicts /2, seen longest ago.
    assert.equal(d.claim('sin', '/1'), false, '/1 was kept');
    assert.equal(d.claim('sin', '/2'), true, '/2 was evicted');
  });
});
