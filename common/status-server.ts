/** The warmer's HTTP side: `GET /metrics` (Prometheus text) and `GET /healthz`. */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface StatusSource {
  /** Brings scrape-time gauges up to date. */
  refresh(): void;
  health(): Record<string, unknown>;
}

export function createStatusServer(registry: Registry, source: StatusSource): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
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
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ status: 'ok', ...source.health() })}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics or /healthz\n');
    }
  });
}
