import assert from 'node:assert/strict';
import { simulate } from '../../simulate/simulate.js';
import { simTargetOf } from '../../simulate/target.js';
import { testStack } from '../helpers/test-stack.js';

describe('page-view simulation on the shared stack', function () {
  this.timeout(60000);

  it('warming on makes first views hits; warming off does not', async () => {
    const s = await testStack();
    // The last 100 paths of the fixture store: the end-to-end tests take theirs from the front.
    const target = simTargetOf(s.stack, s.corpus.paths.slice(-100));
    const [off, on] = await simulate(target, {
      pages: 10, minImages: 8, maxImages: 20, gapMs: [150, 250], rate: 20, viewRatio: 1, browserConcurrency: 8, seed: 7, modes: ['off', 'on'],
    });
    const total = (r: typeof off, k: 'firstViews' | 'firstViewHits' | 'errors' | 'wastedPushes') => r!.colos.reduce((a, c) => a + c[k], 0);
    assert.ok(total(off, 'firstViews') > 20 && total(on, 'firstViews') > 20);
    assert.equal(total(off, 'errors') + total(on, 'errors'), 0);
    const offRatio = total(off, 'firstViewHits') / total(off, 'firstViews');
    const onRatio = total(on, 'firstViewHits') / total(on, 'firstViews');
    assert.ok(offRatio <= 0.1, `warming off: first-view hit ratio ${offRatio}`);
    assert.ok(onRatio >= 0.8, `warming on: first-view hit ratio ${onRatio}`);
    assert.equal(total(on, 'wastedPushes'), 0, 'every pushed image was viewed (view ratio 1)');
  });
});
