/**
 * The dashboard without a stack: panel data aligned for the charts, the Grafana JSON made
 * from the same definitions, and a server whose Prometheus is down still serving a page
 * that says so on every panel. (With a live Prometheus: test/e2e/pipeline.test.ts.)
 */
import assert from 'node:assert/strict';
import { createLogger } from '../../common/logger.js';
import { loadDashboardConfig } from '../../dashboard/config.js';
import { grafanaDashboard } from '../../dashboard/grafana.js';
import { panelData } from '../../dashboard/panel-data.js';
import { PANELS, SECTIONS, legendFor, type PanelDef } from '../../dashboard/panels.js';
import { DashboardServer } from '../../dashboard/server.js';
import { scrape } from '../../common/prom-text.js';
import { freePorts } from '../helpers/test-stack.js';

describe('dashboard', () => {
  it('defines each panel once, with a unique id, a unit and at least one query', () => {
    const ids = PANELS.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(
      SECTIONS.map((s) => s.title),
      ['Warm path', 'Caches', 'The race', 'Ingest', 'Identity', 'Compression', 'Origin', 'Takedowns', 'Store'],
    );
    for (const p of PANELS) assert.ok(p.queries.length > 0 && p.title && p.help, p.id);
  });

  it('fills legends from labels, as Grafana does', () => {
    assert.equal(legendFor('{{colo}} p50', { colo: 'sin' }), 'sin p50');
    assert.equal(legendFor('{{ colo }} {{outcome}}', { colo: 'ams', outcome: 'won' }), 'ams won');
  });

  it('puts every series of a panel on one time grid, gaps and NaN as null, and reports a failed query by its legend', async () => {
    const panel: PanelDef = {
      id: 't',
      title: 't',
      unit: 'count',
      help: '',
      queries: [
        { expr: 'a', legend: '{{colo}}' },
        { expr: 'b', legend: 'broken' },
      ],
    };
    const d = await panelData(panel, 600, 10_000, (expr, start, end, step) => {
      assert.equal(step, 3);
      assert.equal(end % step, 0);
      assert.equal(end - start, 600);
      if (expr === 'b') return Promise.resolve({ ok: false, kind: 'query_error', message: 'bad_data: parse error' });
      return Promise.resolve({
        ok: true,
        series: [
          {
            labels: { colo: 'sin' },
            values: [
              [start, 1],
              [start + 3, Number.NaN],
              [end, 2],
            ],
          },
          { labels: { colo: 'ams' }, values: [[start + 6, 5]] },
        ],
      });
    });
    assert.equal(d.x.length, 201);
    assert.deepEqual(
      d.series.map((s) => s.name),
      ['ams', 'sin'],
    );
    const sin = d.series[1]!.values;
    assert.deepEqual([sin[0], sin[1], sin[2], sin[200]], [1, null, null, 2]);
    assert.equal(d.series[0]!.values[2], 5);
    assert.deepEqual(d.errors, ['broken: bad_data: parse error']);
  });

  it('makes a Grafana dashboard of the same panels: one row per section, every query with its legend', () => {
    const g = grafanaDashboard();
    const panels = g.panels ?? [];
    assert.deepEqual(
      panels.filter((p) => p.type === 'row').map((p) => p.title),
      SECTIONS.map((s) => s.title),
    );
    const charts = panels.filter((p) => p.type === 'timeseries') as { title?: string; targets?: { expr?: string; legendFormat?: string; refId?: string }[] }[];
    assert.deepEqual(
      charts.map((p) => p.title),
      PANELS.map((p) => p.title),
    );
    for (const [i, p] of PANELS.entries()) {
      assert.deepEqual(
        charts[i]!.targets!.map((t) => [t.expr, t.legendFormat]),
        p.queries.map((q) => [q.expr, q.legend]),
      );
      assert.equal(new Set(charts[i]!.targets!.map((t) => t.refId)).size, p.queries.length);
    }
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length);
  });

  describe('with Prometheus down', () => {
    let server: DashboardServer;
    let base: string;
    before(async () => {
      const [closed, port] = await freePorts(2);
      server = new DashboardServer(loadDashboardConfig(undefined, { prometheus: `http://127.0.0.1:${closed}`, http: { port } }), {
        logger: createLogger('dashboard', 'silent'),
      });
      await server.start();
      base = `http://127.0.0.1:${port}`;
    });
    after(async () => {
      await server?.stop();
    });

    it('answers each panel with the reason, never an empty success, and is not ready', async () => {
      const r = await fetch(`${base}/api/panel/cache-hit-ratio`);
      assert.equal(r.status, 200);
      const d = (await r.json()) as { series: unknown[]; errors: string[] };
      assert.deepEqual(d.series, []);
      assert.match(d.errors[0] ?? '', /Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(JSON.stringify(await ready.json()), /unreachable/);
      const m = await scrape(base.slice('http://'.length));
      assert.ok((m.get('hearth_dashboard_queries_total{result="unreachable"}') ?? 0) >= 2);
    });

    it('serves the page with every panel in it, and uPlot from npm', async () => {
      const page = await (await fetch(`${base}/`)).text();
      for (const p of PANELS) assert.ok(page.includes(`data-panel="${p.id}"`), p.id);
      const js = await fetch(`${base}/uPlot.iife.min.js`);
      assert.equal(js.status, 200);
      assert.match(await js.text(), /uPlot/);
    });

    it('refuses an unknown panel, a bad range and other methods, saying why', async () => {
      assert.equal((await fetch(`${base}/api/panel/nope`)).status, 404);
      const bad = await fetch(`${base}/api/panel/warm-hints?range=abc`);
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /range: seconds from 60/);
      assert.equal((await fetch(`${base}/api/panel/warm-hints?range=10`)).status, 400);
      assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
    });
  });
});
