/**
 * The exact Hamming index against a brute-force scan, on synthetic hashes (the scale
 * and the planted distances are the point: no photo set has 100,000 images with
 * matches at known distances).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HammingIndex } from '../../identity/hamming-index.js';
import { hamming } from '../../identity/pdq.js';
import { nativeMatch } from '../../identity/native-match.js';

/** `h` with `bits` distinct bits flipped. */
function flipped(h: Buffer, bits: number): Buffer {
  const out = Buffer.from(h);
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(randomBytes(1)[0]!);
  for (const b of chosen) out[b >> 3] = out[b >> 3]! ^ (1 << (b & 7));
  return out;
}

describe('exact Hamming index (multi-index hashing)', function () {
  this.timeout(60_000);
  const hashes = Array.from({ length: 100_000 }, () => randomBytes(32));
  const index = new HammingIndex(hashes);

  it('finds every planted near copy within the threshold, and none beyond it', () => {
    for (const threshold of [10, 31]) {
      for (let d = 0; d <= threshold + 2; d++) {
        const target = (d * 7919) % hashes.length;
        const query = flipped(hashes[target]!, d);
        const found = index.search(query, threshold).find((m) => m.index === target);
        if (d <= threshold) assert.deepEqual(found, { index: target, distance: d }, `threshold ${threshold}, distance ${d}`);
        else assert.equal(found, undefined, `threshold ${threshold}, distance ${d}: beyond it`);
      }
    }
  });

  it('answers exactly what a brute-force scan answers, in native code and in JavaScript', () => {
    assert.ok(nativeMatch(), 'setup builds the native matching engine');
    for (let q = 0; q < 50; q++) {
      const query = q % 2 ? flipped(hashes[q * 13]!, 20 + (q % 12)) : randomBytes(32);
      for (const threshold of [10, 31, 40]) {
        const brute = hashes
          .map((h, i) => ({ index: i, distance: hamming(query, h) }))
          .filter((m) => m.distance <= threshold)
          .sort((a, b) => a.distance - b.distance || a.index - b.index);
        assert.deepEqual(index.search(query, threshold), brute);
        assert.deepEqual(index.search(query, threshold, 'js'), brute);
      }
    }
  });

  it('refuses thresholds it cannot answer by probing, and hashes that are not 256 bits', () => {
    assert.throws(() => index.search(randomBytes(32), 48), /scan instead/);
    assert.throws(() => new HammingIndex([Buffer.alloc(31)]), /31 bytes, not 32/);
  });
});
