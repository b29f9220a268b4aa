import assert from 'node:assert/strict';
import { Histogram } from 'prom-client';
import { createRegistry, createMetrics, seededRandom } from '../../common/index.js';

describe('HotHistogram', () => {
  it('exposes exactly what a prom-client Histogram exposes for the same observations', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const ours = createRegistry();
    const theirs = createRegistry();
    const m = createMetrics(
      {
        a: { type: 'histogram', name: 'hearth_test_seconds', help: 'A test.', labelNames: ['colo'], buckets, hot: true },
        b: { type: 'histogram', name: 'hearth_test_plain_seconds', help: 'Another.', buckets, hot: true },
      } as const,
      ours,
    );
    const ref = new Histogram({ name: 'hearth_test_seconds', help: 'A test.', labelNames: ['colo'], buckets, registers: [theirs] });
    const refPlain = new Histogram({ name: 'hearth_test_plain_seconds', help: 'Another.', buckets, registers: [theirs] });
    const rnd = seededRandom(7);
    for (let i = 0; i < 5000; i++) {
      // Values on the bounds too: le is "less than or equal".
      const v = i % 10 === 0 ? (buckets[i % 4] as number) : rnd() ** 3 * 3;
      const colo = i % 3 === 0 ? 'ams' : 'sin';
      m.a.labels(colo).observe(v);
      ref.labels(colo).observe(v);
      m.b.observe(v / 2);
      refPlain.observe(v / 2);
    }
    const strip = (t: string): string =>
      t
        .split('\n')
        .filter((l) => !l.startsWith('process_') && !l.startsWith('nodejs_') && !/^# (HELP|TYPE) (process|nodejs)_/.test(l) && l !== '')
        .join('\n');
    assert.equal(strip(await ours.metrics()), strip(await theirs.metrics()));
    ours.resetMetrics();
    theirs.resetMetrics();
    m.b.observe(0.5);
    refPlain.observe(0.5);
    assert.match(await ours.metrics(), /hearth_test_plain_seconds_count 1\n/);
    assert.match(await ours.metrics(), /hearth_test_seconds_count\{colo="sin"\} 0\n/);
    assert.throws(() => m.a.labels('sin', 'extra'), TypeError);
    assert.throws(() => m.a.observe(1), TypeError);
  });
});
