/**
 * Every daemon's HTTP side, on a listener of its own (never behind a cache):
 * `GET /metrics` (Prometheus text, the daemon's own registry), `GET /healthz` (alive:
 * the process answers) and `GET /readyz` (ready to take work: 200, or 503 with what
 * is not ready, e.g. the broker not joined or the store not writable).
 */
import { access, constants } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
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
  /** Absent: ready whenever alive. */
  ready?(): Readiness | Promise<Readiness>;
}

/** A readiness from named checks: ready when every one is true. */
export function readiness(checks: Record<string, true | string>): Readiness {
  return { ready: Object.values(checks).every((v) => v === true), checks };
}

/** A readiness check: the directory exists and this process may write into it. */
export async function writableDir(dir: string): Promise<true | string> {
  return access(dir, constants.W_OK).then(
    () => true as const,
    (err: Error) => `not writable: ${err.message}`,
  );
}

export function createStatusServer(registry: Registry, source: StatusSource): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      source.refresh();
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
      );
    } else if (path === '/healthz') {
      json(200, { status: 'ok', ...source.health() });
    } else if (path === '/readyz') {
      Promise.resolve(source.ready?.() ?? readiness({})).then(
        (r) => json(r.ready ? 200 : 503, r),
        (err: Error) => json(503, { ready: false, checks: { readiness: `check failed: ${err.message}` } }),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics, /healthz or /readyz\n');
    }
  });
}
