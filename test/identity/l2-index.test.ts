/**
 * The exact L2 engine over 144-byte vectors against the plain scan, on synthetic
 * vectors with planted near copies (Cloudflare's case; no photo set has fuzzy hashes at
 * known distances).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { L2Index, L2_DIMS, l2Scan } from '../../bench/l2-index.js';

/** `v` moved by up to ±`spread` in every dimension (clamped to 0–255). */
function near(v: Uint8Array, spread: number): Uint8Array {
  const out = new Uint8Array(L2_DIMS);
  for (let d = 0; d < L2_DIMS; d++) out[d] = Math.max(0, Math.min(255, (v[d] as number) + Math.floor(Math.random() * (2 * spread + 1)) - spread));
  return out;
}

describe('exact L2 engine (144-byte vectors, native SIMD)', function () {
  this.timeout(60_000);
  // Not a multiple of the 64-vector blocks: the padding must never answer.
  const n = 100_003;
  const vectors = new Uint8Array(randomBytes(n * L2_DIMS));
  const index = new L2Index(vectors);
  const at = (i: number): Uint8Array => vectors.subarray(i * L2_DIMS, (i + 1) * L2_DIMS);

  it('answers exactly what the plain scan answers, for thresholds on both of its paths', () => {
    for (let q = 0; q < 24; q++) {
      const query = q % 3 === 0 ? new Uint8Array(randomBytes(L2_DIMS)) : near(at((q * 7919) % n), 4 + q);
      for (const threshold of [0, 5_000, 40_000, 65_534, 65_535, 400_000]) {
        assert.deepEqual(index.search(query, threshold), l2Scan(vectors, query, threshold), `query ${q}, threshold ${threshold}`);
      }
    }
  });

  it('finds every planted near copy, the last vector included, and itself at distance 0', () => {
    for (const target of [0, 63, 64, n - 1]) {
      assert.deepEqual(index.search(at(target), 0), [{ index: target, distance: 0 }]);
      const query = near(at(target), 10);
      const found = index.search(query, 20_000).find((m) => m.index === target);
      assert.deepEqual(
        found,
        l2Scan(vectors, query, 20_000).find((m) => m.index === target),
      );
      assert.ok(found, `vector ${target}`);
    }
  });

  it('refuses what is not 144-byte vectors', () => {
    assert.throws(() => new L2Index(new Uint8Array(145)), /not a multiple of 144/);
    assert.throws(() => index.search(new Uint8Array(10), 1), /10 bytes, not 144/);
  });
});
