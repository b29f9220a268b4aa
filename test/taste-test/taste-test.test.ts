import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { seededRandom } from '../../common/random.js';
import { DEFAULT_PERCEPTUAL } from '../../image/perceptual.js';
import { findJpegs } from '../../corpus/build.js';
import { CpuBackend } from '../../image/cpu-backend.js';
import { DEFAULT_LADDER } from '../../image/ladder.js';
import { readAnswers, type Answer } from '../../taste-test/answers.js';
import { makePairs, type TastePair } from '../../taste-test/pairs.js';
import { TasteTestServer } from '../../taste-test/server.js';
import { MIN_VIEW_MS, binomialTailHalf, report, verdict } from '../../taste-test/stats.js';
import { FIXTURES } from '../helpers/test-stack.js';

/** Where the browser test leaves its screenshot, to look at after a run. */
const SHOTS = '.state/test';

const answer = (truth: Answer['truth'], given: Answer['answer'], tester = 't'): Answer => ({
  at: new Date(0).toISOString(),
  tester,
  trial: Math.random().toString(36),
  image: 'x.jpg',
  size: 'z',
  target: 0.985,
  quality: 80,
  truth,
  answer: given,
  ms: 1000,
});

describe('taste test: statistics', () => {
  it('computes the exact one-sided binomial tail against guessing', () => {
    assert.equal(binomialTailHalf(10, 10), 1 / 1024);
    assert.equal(binomialTailHalf(10, 0), 1);
    assert.ok(Math.abs(binomialTailHalf(20, 15) - 0.020695) < 1e-6);
    assert.ok(Math.abs(binomialTailHalf(20, 14) - 0.057659) < 1e-6);
    // Large n stays finite and sane.
    const p = binomialTailHalf(4000, 2000);
    assert.ok(p > 0.5 && p < 0.51, String(p));
  });

  it('says testers told pairs apart only when they beat chance, and shows a one-button bias for what it is', () => {
    const perfect = Array.from({ length: 10 }, () => 0).flatMap(() => [answer('same', 'same'), answer('different', 'different')]);
    const v = verdict(perfect);
    assert.equal(v.distinguishable, true);
    assert.equal(v.accuracy, 1);
    assert.equal(v.neededForSignificance, 15);
    // Always "different": every different pair is a hit, but so is every identical one.
    const biased = Array.from({ length: 10 }, () => 0).flatMap(() => [answer('same', 'different'), answer('different', 'different')]);
    const b = verdict(biased);
    assert.equal(b.distinguishable, false);
    assert.equal(b.hitRate, 1);
    assert.equal(b.falseAlarmRate, 1);
    assert.equal(b.accuracy, 0.5);
    assert.equal(verdict([]).distinguishable, false);
  });

  it('groups by target and size, and by tester', () => {
    const r = report([answer('same', 'same', 'a'), { ...answer('different', 'same', 'b'), target: 0.97 }]);
    assert.equal(r.testers, 2);
    assert.deepEqual(
      r.byTarget.map((g) => [g.target, g.size, g.trials]),
      [
        [0.985, 'z', 1],
        [0.97, 'z', 1],
      ],
    );
  });

  it('leaves answers faster than a person can compare out of every verdict, and says how many', () => {
    const slow = Array.from({ length: 10 }, () => 0).flatMap(() => [answer('same', 'same'), answer('different', 'different')]);
    const fast = Array.from({ length: 30 }, () => ({ ...answer('same', 'different'), ms: 120 }));
    const r = report([...slow, ...fast]);
    assert.equal(r.tooFast, 30);
    assert.equal(r.minViewMs, MIN_VIEW_MS);
    assert.equal(r.overall.trials, 20);
    assert.equal(r.overall.accuracy, 1);
    assert.equal(report([...slow, ...fast], { minViewMs: 0 }).overall.trials, 50);
  });

  it('skips damaged lines of the answers file, counting them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-taste-'));
    const file = join(dir, 'answers.jsonl');
    writeFileSync(file, `${JSON.stringify(answer('same', 'same'))}\n{"half a line\n${JSON.stringify({ ...answer('same', 'same'), answer: 'maybe' })}\n\n`);
    const { answers, damaged } = await readAnswers(file);
    assert.equal(answers.length, 1);
    assert.equal(damaged, 2);
    assert.deepEqual(await readAnswers(join(dir, 'none.jsonl')), { answers: [], damaged: 0 });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('taste test: the page, in headless Chromium', function () {
  this.timeout(120_000);
  let pairs: TastePair[];
  let dir: string;
  let server: TasteTestServer;
  let browser: Browser;
  const size = DEFAULT_LADDER.find((s) => s.name === 'n')!;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-taste-'));
    const made = await makePairs({
      photos: findJpegs(FIXTURES),
      size,
      backend: new CpuBackend(1),
      encode: { quality: 85, progressive: true, chromaSubsampling: '4:2:0' },
      perceptual: DEFAULT_PERCEPTUAL,
    });
    pairs = made.pairs;
    assert.equal(pairs.length, 3, `unchanged: ${made.unchanged.join(', ')}`);
    // The scripted testers answer in milliseconds; the viewing-time rule has its own test below.
    server = new TasteTestServer({ pairs, answersFile: join(dir, 'answers.jsonl'), trialsPerTester: 12, random: seededRandom(7), minViewMs: 0 });
    await server.listen(0);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes each pair with the real tiers: the compressed side is smaller and keeps the target', () => {
    for (const p of pairs) {
      assert.ok(p.compressed.length < p.original.length, p.image);
      assert.ok(p.score >= DEFAULT_PERCEPTUAL.target, `${p.image}: ${p.score}`);
      assert.equal(p.size, 'n');
    }
  });

  it('shows unlabelled blind pairs; a tester who compares pixels beats chance, one who always says "same" does not', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    mkdirSync(SHOTS, { recursive: true });
    // Tester 1: compares the two pictures pixel by pixel on a canvas, so is always right.
    await page.goto(`${server.url}/?tester=pixel-peeper`);
    let last = '';
    let identical = 0;
    for (let i = 0; ; i++) {
      await page.waitForFunction(
        (prev) => document.body.dataset.state === 'done' || (document.body.dataset.state === 'asking' && document.body.dataset.trial !== prev),
        last,
      );
      if ((await page.evaluate(() => document.body.dataset.state)) === 'done') break;
      last = (await page.evaluate(() => document.body.dataset.trial)) ?? '';
      if (i === 0) {
        // Nothing on the page says which side is which.
        const text = await page.evaluate(() => document.body.innerText);
        assert.doesNotMatch(text, /original|compress|quality|ssim|left|right/i);
        const srcs = await page.evaluate(() => [...document.querySelectorAll('img')].map((img) => img.getAttribute('src') ?? ''));
        for (const s of srcs) assert.match(s, /^\/img\/[0-9a-f]{24}\.jpg$/);
        await page.screenshot({ path: join(SHOTS, 'taste-test.png') });
      }
      const same = await page.evaluate(() => {
        const px = (img: HTMLImageElement): Uint8ClampedArray => {
          const c = document.createElement('canvas');
          c.width = img.naturalWidth;
          c.height = img.naturalHeight;
          const g = c.getContext('2d')!;
          g.drawImage(img, 0, 0);
          return g.getImageData(0, 0, c.width, c.height).data;
        };
        const [a, b] = [...document.querySelectorAll('img')].map(px);
        return a!.length === b!.length && a!.every((v, k) => v === b![k]);
      });
      if (same) identical++;
      await page.click(same ? '#same' : '#different');
    }
    assert.ok(identical > 0 && identical < 12, `identical pairs: ${identical} of 12 (seeded; both kinds must appear)`);
    assert.match(await page.locator('#done').innerText(), /Thank you/);

    // Tester 2: always presses S, from the keyboard.
    await page.goto(`${server.url}/?tester=always-same`);
    for (let i = 0; i < 12; i++) {
      await page.waitForFunction((n) => document.body.dataset.state === 'asking' && document.body.dataset.trial !== n, last);
      last = (await page.evaluate(() => document.body.dataset.trial)) ?? '';
      await page.keyboard.press('s');
    }
    await page.waitForFunction(() => document.body.dataset.state === 'done');
    await page.close();

    const r = (await (await fetch(`${server.url}/report.json`)).json()) as ReturnType<typeof report>;
    const peeper = r.byTester.find((t) => t.tester === 'pixel-peeper')!;
    const same = r.byTester.find((t) => t.tester === 'always-same')!;
    assert.equal(peeper.trials, 12);
    assert.equal(peeper.accuracy, 1);
    assert.equal(peeper.distinguishable, true);
    assert.ok(peeper.pValue < 0.001);
    assert.equal(same.trials, 12);
    assert.equal(same.hitRate, 0);
    assert.equal(same.falseAlarmRate, 0);
    assert.equal(same.distinguishable, false);
    // The answers file holds every answer, with what was really shown.
    const { answers } = await readAnswers(join(dir, 'answers.jsonl'));
    assert.equal(answers.length, 24);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^hearth_tastetest_answers_total\{use="counted"\} 24$/m);
    assert.equal(answers.filter((a) => a.tester === 'pixel-peeper' && a.truth === 'same').length, identical);
    const html = await (await fetch(`${server.url}/report`)).text();
    assert.match(html, /told apart/);
    assert.ok(statSync(join(SHOTS, 'taste-test.png')).size > 10_000);
    assert.deepEqual([...readFileSync(join(SHOTS, 'taste-test.png')).subarray(1, 4)], [...Buffer.from('PNG')]);
  });

  it('serves identical bytes on both sides only for identical trials, under fresh tokens each time', async () => {
    let same = 0;
    let different = 0;
    for (let i = 0; i < 10; i++) {
      const t = (await (await fetch(`${server.url}/api/trial?tester=api-${i}`)).json()) as { trial: string; left: string; right: string };
      assert.notEqual(t.left, t.right);
      assert.deepEqual(Object.keys(t).sort(), ['answered', 'done', 'left', 'of', 'right', 'trial']);
      const [l, r] = await Promise.all([t.left, t.right].map(async (u) => Buffer.from(await (await fetch(`${server.url}${u}`)).arrayBuffer())));
      if (l!.equals(r!)) same++;
      else different++;
    }
    assert.ok(same > 0 && different > 0);
  });

  it('refuses bad answers with clear errors and records nothing for them', async () => {
    const post = (body: string) => fetch(`${server.url}/api/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const before = (await readAnswers(join(dir, 'answers.jsonl'))).answers.length;
    assert.equal((await post('not json')).status, 400);
    assert.equal((await post(JSON.stringify({ tester: 'x', trial: 'y', answer: 'maybe' }))).status, 400);
    assert.equal((await post(JSON.stringify({ tester: 'x', trial: 'nope', answer: 'same' }))).status, 404);
    assert.equal((await post('x'.repeat(5000))).status, 413);
    // JSON only: a form or text/plain POST (what any web page can send cross-site) is refused.
    const t0 = (await (await fetch(`${server.url}/api/trial?tester=former`)).json()) as { trial: string };
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', '']) {
      const r = await fetch(`${server.url}/api/answer`, {
        method: 'POST',
        headers: type ? { 'content-type': type } : {},
        body: JSON.stringify({ tester: 'former', trial: t0.trial, answer: 'same' }),
      });
      assert.equal(r.status, 415, type);
    }
    assert.equal((await fetch(`${server.url}/api/trial?tester=has%20space`)).status, 400);
    const t = (await (await fetch(`${server.url}/api/trial?tester=owner`)).json()) as { trial: string };
    assert.equal((await post(JSON.stringify({ tester: 'intruder', trial: t.trial, answer: 'same' }))).status, 409);
    assert.equal((await post(JSON.stringify({ tester: 'owner', trial: t.trial, answer: 'same' }))).status, 200);
    // An answer counts once.
    assert.equal((await post(JSON.stringify({ tester: 'owner', trial: t.trial, answer: 'same' }))).status, 404);
    assert.equal((await readAnswers(join(dir, 'answers.jsonl'))).answers.length, before + 1);
  });
});
