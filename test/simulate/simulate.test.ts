import assert from 'node:assert/strict';
import { SIM_BROWSERS, simulate, type SimBrowser } from '../../simulate/simulate.js';
import { simTargetOf } from '../../simulate/target.js';
import { testStack } from '../helpers/test-stack.js';

/** Only `name`, every page. */
const only = (name: string): SimBrowser[] => SIM_BROWSERS.filter((b) => b.name === name).map((b) => ({ ...b, share: 1 }));

describe('page-view simulation on the shared stack', function () {
  this.timeout(60000);

  it('warming on makes first views hits; warming off does not', async () => {
    const s = await testStack();
    // The last 100 paths of the fixture store: the end-to-end tests take theirs from the front.
    const target = simTargetOf(s.stack, s.corpus.paths.slice(-100));
    const [off, on] = await simulate(target, {
      pages: 10,
      minImages: 8,
      maxImages: 20,
      gapMs: [150, 250],
      rate: 20,
      viewRatio: 1,
      browserConcurrency: 8,
      seed: 7,
      modes: ['off', 'on'],
      browsers: only('safari-13'),
    });
    const total = (r: typeof off, k: 'firstViews' | 'firstViewHits' | 'errors' | 'wastedPushes') => r!.colos.reduce((a, c) => a + c[k], 0);
    assert.ok(total(off, 'firstViews') > 20 && total(on, 'firstViews') > 20);
    assert.equal(total(off, 'errors') + total(on, 'errors'), 0);
    const offRatio = total(off, 'firstViewHits') / total(off, 'firstViews');
    const onRatio = total(on, 'firstViewHits') / total(on, 'firstViews');
    assert.ok(offRatio <= 0.1, `warming off: first-view hit ratio ${offRatio}`);
    assert.ok(onRatio >= 0.8, `warming on: first-view hit ratio ${onRatio}`);
    assert.equal(total(on, 'wastedPushes'), 0, 'every pushed image was viewed (view ratio 1)');
    // The race join's count from the caches' logs: every first view of a pushed path, won, in flight or lost.
    const race = on!.colos.reduce((a, c) => a + c.race.won + c.race.in_flight + c.race.lost, 0);
    const raceHits = on!.colos.reduce((a, c) => a + c.race.won + c.race.in_flight, 0);
    assert.ok(race <= total(on, 'firstViews') && race >= 0.9 * total(on, 'firstViews'), `race join ${race}, simulator ${total(on, 'firstViews')}`);
    assert.ok(raceHits <= total(on, 'firstViewHits'), `race join HITs ${raceHits}, simulator ${total(on, 'firstViewHits')}`);
  });

  it('reports first views by HTML-to-image gap and by position in the page, every first view in one bucket', async () => {
    const s = await testStack();
    const target = simTargetOf(s.stack, s.corpus.paths.slice(-200, -120));
    const [on] = await simulate(target, {
      pages: 6,
      minImages: 10,
      maxImages: 20,
      gapMs: [160, 240],
      rate: 20,
      viewRatio: 1,
      browserConcurrency: 4,
      seed: 11,
      modes: ['on'],
      browsers: only('safari-13'),
    });
    const firsts = on!.colos.reduce((a, c) => a + c.firstViews, 0);
    for (const buckets of [on!.byGap, on!.byPosition])
      assert.equal(
        buckets.reduce((a, b) => a + b.firstViews, 0),
        firsts,
      );
    assert.deepEqual(
      on!.byGap.filter((b) => b.firstViews > 0).map((b) => b.bucket),
      ['150-200', '200-300'],
    );
    assert.deepEqual(
      on!.byPosition.map((b) => b.bucket),
      ['1-16', '17-32', '33-64', '65-128', '129+'],
    );
    assert.ok((on!.byPosition[1]?.firstViews ?? 0) > 0, 'pages of up to 20 images reach positions 17-20');
  });

  it("warms each browser's own encoding: a mix of browsers gets first-view HITs in every class, and each class's first views are counted apart", async () => {
    const s = await testStack();
    // Paths no other test takes: the warm-path tests take about 50 from the front.
    const target = simTargetOf(s.stack, s.corpus.paths.slice(-236, -200));
    const [on] = await simulate(target, {
      // A load and gaps that leave the origin time for each page's AVIFs (about 0.2 s each at 1024 px, two at
      // once): this is about classes, not about how slow an encode is (npm run bench -- formats).
      pages: 9,
      minImages: 3,
      maxImages: 6,
      gapMs: [1500, 1800],
      rate: 1,
      viewRatio: 1,
      browserConcurrency: 4,
      seed: 5,
      modes: ['on'],
      browsers: [...only('chromium'), ...only('safari-no-avif'), ...only('safari-13')],
    });
    const firsts = on!.colos.reduce((a, c) => a + c.firstViews, 0);
    assert.equal(
      on!.byFormat.reduce((a, b) => a + b.firstViews, 0),
      firsts,
    );
    for (const b of on!.byFormat) {
      assert.ok(b.firstViews > 0, `${b.bucket}: first views`);
      assert.ok(b.hitRatio >= 0.8, `${b.bucket}: first-view hit ratio ${b.hitRatio}`);
    }
    assert.equal(
      on!.colos.reduce((a, c) => a + c.errors, 0),
      0,
    );
  });
});
