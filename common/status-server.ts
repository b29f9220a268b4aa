/**
 * Every daemon's HTTP side, on a listener of its own (never behind a cache):
 * `GET /metrics` (Prometheus text, the daemon's own registry), `GET /healthz` (alive:
 * the process answers and its own work is not stuck: 503 naming what is, which a
 * supervisor may restart it for) and `GET /readyz` (ready to take work: 200, or 503 with what
 * is not ready, e.g. the broker not joined or the store not writable).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  /** Each check by name: true, or why not. */
  checks: Record<string, true | string>;
}

export interface StatusSource {
  /** Brings scrape-time gauges up to date. */
  refresh(): void;
  health(): Record<string, unknown>;
  /** Why the process, though it answers, is not doing its work (a consumer out of its group, a message stuck): /healthz fails. None: alive. */
  problems?(): string[];
  /** Absent: ready whenever alive. */
  ready?(): Readiness | Promise<Readiness>;
}

/** A readiness from named checks: ready when every one is true. */
export function readiness(checks: Record<string, true | string>): Readiness {
  return { ready: Object.values(checks).every((v) => v === true), checks };
}

const STATUS_PATHS = new Set(['/metrics', '/healthz', '/readyz']);

/**
 * The three status routes as a handler, for a daemon whose own listener serves more (the
 * dashboard's page): answers and returns true for them, returns false for anything else.
 */
export function statusRoutes(registry: Registry, source: StatusSource): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!STATUS_PATHS.has(path)) return false;
    const json = (status: number, body: unknown): void =>
      void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      source.refresh();
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
      );
    } else if (path === '/healthz') {
      const problems = source.problems?.() ?? [];
      json(problems.length === 0 ? 200 : 503, {
        status: problems.length === 0 ? 'ok' : 'failing',
        ...(problems.length === 0 ? {} : { problems }),
        ...source.health(),
      });
    } else {
      Promise.resolve(source.ready?.() ?? readiness({})).then(
        (r) => json(r.ready ? 200 : 503, r),
        (err: Error) => json(503, { ready: false, checks: { readiness: `check failed: ${err.message}` } }),
      );
    }
    return true;
  };
}

export function createStatusServer(registry: Registry, source: StatusSource): Server {
  const routes = statusRoutes(registry, source);
  return createServer((req, res) => {
    if (routes(req, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') res.writeHead(405, { allow: 'GET, HEAD' }).end();
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics, /healthz or /readyz\n');
  });
}
