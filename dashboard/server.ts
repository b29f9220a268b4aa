/**
 * `hearth dashboard`: the page, uPlot's files from npm, each panel's data (queried from
 * Prometheus here, so the browser never needs Prometheus's address or CORS), and the
 * common /metrics, /healthz and /readyz, on one listener.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { closeServer, createLogger, createMetrics, createRegistry, listen, readiness, statusRoutes, type Logger, type Metrics } from '../common/index.js';
import type { DashboardConfig } from './config.js';
import { DASHBOARD_METRICS } from './metrics.js';
import { dashboardPage } from './page.js';
import { panelData } from './panel-data.js';
import { SECTIONS, type PanelDef, type SectionDef } from './panels.js';
import { queryRange } from './prometheus-api.js';

const require = createRequire(import.meta.url);
const ASSETS: Record<string, { file: string; type: string }> = {
  '/uPlot.iife.min.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/uPlot.min.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export class DashboardServer {
  readonly metrics: Metrics<typeof DASHBOARD_METRICS>;
  private readonly registry = createRegistry();
  private readonly log: Logger;
  private readonly server: Server;
  private readonly page: string;
  private readonly assets = new Map<string, { body: Buffer; type: string }>();
  private readonly byId: Map<string, PanelDef>;
  private readonly sections: readonly SectionDef[];

  constructor(
    readonly config: DashboardConfig,
    /** `sections`: Hearth's panels (panels.ts) unless given. */
    opts: { logger?: Logger; sections?: readonly SectionDef[] } = {},
  ) {
    this.sections = opts.sections ?? SECTIONS;
    this.byId = new Map(this.sections.flatMap((s) => s.panels.map((p) => [p.id, p])));
    this.log = opts.logger ?? createLogger('dashboard', config.log.level);
    this.metrics = createMetrics(DASHBOARD_METRICS, this.registry);
    for (const r of ['ok', 'query_error', 'unreachable']) this.metrics.queries.labels(r).inc(0);
    this.page = dashboardPage(this.sections, { rangeS: config.rangeS, refreshS: config.refreshS, prometheus: config.prometheus });
    for (const [path, a] of Object.entries(ASSETS)) this.assets.set(path, { body: readFileSync(a.file), type: a.type });
    const status = statusRoutes(this.registry, {
      refresh: () => {},
      health: () => ({ panels: this.byId.size }),
      // Ready when Prometheus answers: otherwise every panel would only say it is down.
      ready: async () => {
        const r = await this.query('vector(1)', 0, 0, 1);
        return readiness({ prometheus: r.ok || r.message });
      },
    });
    this.server = createServer((req, res) => {
      if (status(req, res)) return;
      this.handle(req, res).catch((err: Error) => {
        this.log.error({ err }, 'dashboard request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ error: 'internal error' })}\n`);
      });
    });
  }

  private async query(expr: string, start: number, end: number, step: number) {
    const t0 = performance.now();
    const r = await queryRange(this.config.prometheus, expr, start, end, step, this.config.queryTimeoutMs);
    this.metrics.queryDuration.observe((performance.now() - t0) / 1000);
    this.metrics.queries.labels(r.ok ? 'ok' : r.kind).inc();
    return r;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const json = (code: number, body: unknown): void =>
      void res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    const asset = this.assets.get(url.pathname);
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(this.page);
    } else if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'max-age=3600' }).end(asset.body);
    } else if (url.pathname === '/api/panels') {
      json(200, this.sections);
    } else if (url.pathname.startsWith('/api/panel/')) {
      const panel = this.byId.get(decodeURIComponent(url.pathname.slice('/api/panel/'.length)));
      if (!panel) return json(404, { error: `no such panel; see /api/panels` });
      const raw = url.searchParams.get('range') ?? String(this.config.rangeS);
      const rangeS = Number(raw);
      if (!/^[0-9]+$/.test(raw) || rangeS < 60 || rangeS > 7 * 86_400)
        return json(400, { error: `range: seconds from 60 to 604800 (got ${JSON.stringify(raw)})` });
      json(200, await panelData(panel, rangeS, Date.now() / 1000, (e, s, en, st) => this.query(e, s, en, st)));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; the dashboard is at /\n');
    }
  }

  async start(): Promise<AddressInfo> {
    await listen(this.server, this.config.http.port, this.config.http.host);
    const address = this.server.address() as AddressInfo;
    this.log.info({ url: `http://${address.address}:${address.port}/`, prometheus: this.config.prometheus }, 'dashboard serving');
    return address;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}
