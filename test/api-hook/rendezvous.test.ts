import assert from 'node:assert/strict';
import { Rendezvous } from '@hearth/api-hook';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:4950`);
const keys = Array.from({ length: 20000 }, (_, i) => `/photos/${i % 97}/${i}_b.jpg`);

describe('rendezvous hashing', () => {
  it('is stable: the same path always picks the same node, across instances', () => {
    const a = new Rendezvous(ids(4), ids(4));
    const b = new Rendezvous(ids(4), ids(4));
    for (const k of keys.slice(0, 1000)) assert.equal(a.pick(k), b.pick(k));
  });

  it('spreads paths evenly', () => {
    const r = new Rendezvous(ids(4), ids(4));
    const counts = [0, 0, 0, 0];
    for (const k of keys) counts[r.pick(k)]!++;
    for (const c of counts) assert.ok(Math.abs(c - keys.length / 4) < keys.length * 0.03, `uneven: ${counts.join(',')}`);
  });

  it('adding a node moves only the paths it takes over (about 1/n)', () => {
    const before = new Rendezvous(ids(4), ids(4));
    const after = new Rendezvous(ids(5), ids(5));
    let moved = 0;
    for (const k of keys) {
      const a = ids(4)[before.pick(k)];
      const b = ids(5)[after.pick(k)];
      if (a !== b) {
        moved++;
        assert.equal(b, ids(5)[4], 'a moved path must move to the new node');
      }
    }
    assert.ok(Math.abs(moved / keys.length - 0.2) < 0.03, `moved ${moved}`);
  });

  it('does not depend on the order nodes are listed in', () => {
    const a = new Rendezvous(ids(3), ids(3));
    const rev = ids(3).reverse();
    const b = new Rendezvous(rev, rev);
    for (const k of keys.slice(0, 1000)) assert.equal(ids(3)[a.pick(k)], rev[b.pick(k)]);
  });
});
