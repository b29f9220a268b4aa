/**
 * The dashboard on the whole pipeline: after `hearth simulate` traffic, one upload and a
 * lossless batch, every panel's PromQL returns data from the stack's live Prometheus
 * (no typo, no dead series), headless Chromium draws every panel, and a PromQL error or
 * Prometheus down shows on the panels instead of a blank page. Runs on the shared
 * whole-pipeline stack before test/e2e/pipeline.test.ts, which stops it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { launchChromium } from '../helpers/browser.js';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { createLogger } from '../../common/logger.js';
import { scrape } from '../../common/prom-text.js';
import { loadDashboardConfig } from '../../dashboard/config.js';
import { PANELS, type SectionDef } from '../../dashboard/panels.js';
import { DashboardServer } from '../../dashboard/server.js';
import { storedLadder } from '../../image/ladder.js';
import type { ModeReport } from '../../simulate/simulate.js';
import { panelsWithoutData } from '../helpers/panels-without-data.js';
import { pipelineStack, type PipelineStack } from '../helpers/pipeline-stack.js';
import { FIXTURES, freePorts } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
/**
 * The store row's panels: empty on this stack, whose store is a directory (no store
 * service to scrape); test/e2e/pipeline-volumes.test.ts checks them on a volumes stack.
 */
const STORE_PANELS = PANELS.filter((x) => x.id.startsWith('store-')).map((x) => x.id);

const hearth = (...args: string[]) => run(process.execPath, [HEARTH_CLI, ...args], { maxBuffer: 16 << 20 });

/**
 * Each panel's state once none is loading (with `settled`, once each is drawn or failed:
 * the page redraws every few seconds, and data scraped a moment ago can be newer than the
 * grid point a panel last asked for).
 */
async function panelStates(page: Page, settled = false): Promise<Map<string, { state: string; msg: string }>> {
  const done = settled ? ['drawn', 'error'] : ['drawn', 'error', 'empty'];
  await page
    .waitForFunction(
      ([ok, empty]) =>
        [...document.querySelectorAll<HTMLElement>('.panel')].every(
          (p) => ok.includes(p.dataset.state ?? '') || (empty.includes(p.dataset.panel ?? '') && p.dataset.state === 'empty'),
        ),
      [done, STORE_PANELS] as const,
      { timeout: 30_000 },
    )
    .catch(() => undefined);
  const states = await page.$$eval('.panel', (els) =>
    els.map((e) => [(e as HTMLElement).dataset.panel, (e as HTMLElement).dataset.state, e.querySelector('.msg')?.textContent ?? ''] as const),
  );
  return new Map(states.map(([id, state, msg]) => [String(id), { state: String(state), msg }]));
}

describe('the dashboard on the whole pipeline (live Prometheus, headless Chromium)', function () {
  this.timeout(300_000);
  let p: PipelineStack;
  let prom: string;
  let dash: string;
  let browser: Browser;
  let sim: ModeReport;

  before(async () => {
    p = await pipelineStack();
    prom = `http://${p.topology.pipeline!.prometheus.listen}`;
    dash = `http://${p.topology.pipeline!.dashboard}`;
    // Viewers' gaps around the 40 ms origin round trip: some races won, some lost.
    const { stdout } = await hearth(
      'simulate',
      '--state',
      p.stack.stateDir,
      '--pages',
      '100',
      '--images',
      '6-16',
      '--gap',
      '0-150',
      '--rate',
      '8',
      '--mode',
      'on',
      // JPEG viewers: this run is about the panels and the race's counts, not the origin's AVIF encodes
      // (test/simulate/simulate.test.ts runs a mix of browsers).
      '--browsers',
      'safari-13:1',
      '--json',
    );
    sim = (JSON.parse(stdout) as ModeReport[])[0]!;

    const up = await hearth('upload', '--store', p.root, '--brokers', p.topology.kafka!.listen, join(FIXTURES, 'garden.jpg'));
    assert.equal((JSON.parse(up.stdout) as { created: boolean }).created, true);
    const handled = async () => {
      const m = await scrape(p.topology.pipeline!.perceptual);
      return ['compressed', 'kept', 'already'].reduce((n, r) => n + (m.get(`hearth_compress_images_total{result="${r}"}`) ?? 0), 0);
    };
    await until('the upload through the perceptual worker', async () => ((await handled()) >= storedLadder().length ? true : undefined), 90_000);
    // One viewer that takes AVIF, of a size made on demand (a stored size's AVIF was stored
    // at upload), so the origin's variant panel has an encode to show.
    const colo = p.topology.colos[0]!;
    const c = (JSON.parse(up.stdout) as { paths: Record<string, string> }).paths.c!;
    const avif = await request(`http://${colo.nodes[0]}${c}`, { headers: { host: colo.viewerHosts[0] ?? colo.host, accept: 'image/avif,image/webp,*/*' } });
    await avif.body.dump();
    assert.equal(avif.headers['content-type'], 'image/avif');
    // Taken back, so the takedown panels have a purge to show.
    await hearth(
      'delete',
      (JSON.parse(up.stdout) as { id: string }).id,
      '--by',
      'the dashboard test',
      '--store',
      p.root,
      '--brokers',
      p.topology.kafka!.listen,
    );
    // A lossless batch, its metrics file where the stack's textfile collector reads it.
    await hearth('compress', 'originals', '--store', p.root, '--metrics-file', join(p.stack.textfileDir(), 'lossless.prom'), '--log-level', 'warn');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it('every query of every panel returns data from the live Prometheus', async () => {
    assert.deepEqual(
      await panelsWithoutData(
        prom,
        PANELS.filter((x) => !STORE_PANELS.includes(x.id)),
      ),
      [],
    );
  });

  it('the page draws every panel with data', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${dash}/`);
    const states = await panelStates(page, true);
    assert.deepEqual(
      [...states.keys()],
      PANELS.map((x) => x.id),
    );
    assert.deepEqual(
      [...states]
        .filter(([id, s]) => s.state !== 'drawn' && !(STORE_PANELS.includes(id) && s.state === 'empty'))
        .map(([id, s]) => `${id}: ${s.state} (${s.msg})`),
      [],
    );
    assert.equal(
      await page.locator('.panel canvas').count(),
      PANELS.length - [...states].filter(([, s]) => s.state === 'empty').length,
      'one chart per panel with data',
    );
    assert.deepEqual(errors, []);
    // `HEARTH_DASHBOARD_SCREENSHOT=docs/dashboard.png npm test` refreshes the README's picture.
    if (process.env.HEARTH_DASHBOARD_SCREENSHOT) await page.screenshot({ path: process.env.HEARTH_DASHBOARD_SCREENSHOT, fullPage: true });
    await page.close();
  });

  it('a PromQL error, and Prometheus down, show on the panels as messages; the page keeps every panel', async () => {
    const sections: SectionDef[] = [
      {
        title: 'Test',
        panels: [
          { id: 'good', title: 'Targets up', unit: 'count', help: '', queries: [{ expr: 'sum(up)', legend: 'up' }] },
          { id: 'typo', title: 'A typo', unit: 'count', help: '', queries: [{ expr: 'sum(rate(hearth_warmer_pushes_total[1m])', legend: 'pushes' }] },
        ],
      },
    ];
    const [live, down, closed] = await freePorts(3);
    const quiet = createLogger('dashboard', 'silent');
    const servers = [
      new DashboardServer(loadDashboardConfig(undefined, { prometheus: prom, http: { port: live } }), { logger: quiet, sections }),
      new DashboardServer(loadDashboardConfig(undefined, { prometheus: `http://127.0.0.1:${closed}`, http: { port: down } }), { logger: quiet, sections }),
    ];
    for (const s of servers) await s.start();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${live}/`);
      let states = await panelStates(page);
      assert.equal(states.get('good')?.state, 'drawn');
      assert.equal(states.get('typo')?.state, 'error');
      assert.match(states.get('typo')?.msg ?? '', /pushes: bad_data: .*parse error/);
      await page.goto(`http://127.0.0.1:${down}/`);
      states = await panelStates(page);
      for (const id of ['good', 'typo']) {
        assert.equal(states.get(id)?.state, 'error', id);
        assert.match(states.get(id)?.msg ?? '', /Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable/);
      }
      assert.deepEqual(await page.$$eval('.panel h3', (hs) => hs.map((h) => h.textContent)), ['Targets up', 'A typo']);
      await page.close();
    } finally {
      for (const s of servers) await s.stop();
    }
  });

  it('the race join agrees with what the simulated viewers saw: first views of pushed paths, and the share that were HITs', async () => {
    const m = await scrape(p.topology.pipeline!.race);
    for (const c of sim.colos) {
      const [won, inFlight, lost] = ['won', 'in_flight', 'lost'].map(
        (o) => m.get(`hearth_race_first_views_total{colo="${c.colo}",format="jpeg",outcome="${o}"}`) ?? 0,
      ) as [number, number, number];
      const all = won + inFlight + lost;
      // The simulator's first views are all of hinted (so pushed) paths; a few may be
      // views of paths another test of this stack pushed first, or pushes still in flight.
      assert.ok(Math.abs(all - c.firstViews) <= Math.max(3, 0.05 * c.firstViews), `${c.colo}: race ${all} first views, simulator ${c.firstViews}`);
      // A HIT for the viewer is a HIT whether it waited on the push's fetch or not.
      assert.ok(
        Math.abs((won + inFlight) / all - c.raceWinRate) <= 0.05,
        `${c.colo}: race HITs ${((won + inFlight) / all).toFixed(3)}, simulator ${c.raceWinRate.toFixed(3)}`,
      );
    }
  });
});
