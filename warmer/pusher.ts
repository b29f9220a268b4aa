/**
 * Pushes one path into one colo's cache through the keep-alive proxy: a request for
 * `proxy + path` with `Host: <colo host>` on a pooled, kept-alive connection.
 */
import { Pool } from 'undici';
import type { Colo } from './colo-router.js';
import type { PushResult } from './push-scheduler.js';

/** nginx's $upstream_cache_status values; anything else is reported by status class. */
const CACHE_STATUSES = new Set(['hit', 'miss', 'expired', 'stale', 'updating', 'revalidated', 'bypass']);

export interface PushReport extends PushResult {
  /** Metric label: the cache status of a 2xx, else the status class (4xx, 5xx, ...), or `error`. */
  readonly outcome: string;
  readonly status?: number;
  /** X-Cache-Status as the cache said it, lowercased (a 404 can be a HIT of a cached 404). */
  readonly cache?: string;
  /** Error code (e.g. UND_ERR_HEADERS_TIMEOUT, ECONNREFUSED) when outcome is `error`. */
  readonly errorCode?: string;
  readonly seconds: number;
}

export interface PusherOptions {
  readonly proxy: string;
  readonly method: 'HEAD' | 'GET';
  readonly connections: number;
  readonly timeoutMs: number;
  readonly userAgent?: string;
}

export class Pusher {
  private readonly pool: Pool;
  private readonly method: 'HEAD' | 'GET';
  private readonly userAgent: string;

  constructor(o: PusherOptions) {
    this.method = o.method;
    this.userAgent = o.userAgent ?? 'hearth-warmer';
    this.pool = new Pool(o.proxy, {
      connections: o.connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: o.timeoutMs },
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
    });
  }

  /** Never rejects: every failure becomes an `error` outcome. */
  async push(colo: Colo, path: string): Promise<PushReport> {
    const t0 = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
    try {
      const res = await this.pool.request({
        method: this.method,
        path,
        headers: { host: colo.host, 'user-agent': this.userAgent, 'x-hearth-warm': '1' },
        // undici closes the connection after every HEAD by default (nodejs/undici#258, for
        // servers that wrongly send a HEAD body). nginx does not, and keep-alive is the point.
        reset: false,
      });
      // Drain so the connection goes back to the pool (a HEAD has no body to drain).
      await res.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      const status = res.statusCode;
      const cache = res.headers['x-cache-status'];
      const cacheStatus = typeof cache === 'string' ? cache.toLowerCase() : undefined;
      // The HTTP status decides first: a 404 or 503 is never a warm, whatever the cache says.
      const ok = status >= 200 && status < 300;
      const outcome = ok && cacheStatus && CACHE_STATUSES.has(cacheStatus) ? cacheStatus : `${Math.floor(status / 100)}xx`;
      return { ok, failure: status >= 500, outcome, status, cache: cacheStatus, seconds: seconds() };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { ok: false, failure: true, outcome: 'error', errorCode: typeof code === 'string' ? code : 'UNKNOWN', seconds: seconds() };
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
