/**
 * Pushes one path into one colo's cache through the keep-alive proxy: a request for
 * `proxy + path` with `Host: <colo host>` on a kept-alive connection of that colo's own
 * pool.
 *
 * Per colo, because nginx answers the requests of one connection one after another: a
 * colo whose cache is slow or dead must hold only its own connections, never another
 * colo's pushes queued behind it. And through undici's `dispatch()` with a handler
 * object rather than `request()`: no response stream, no promise chain, raw headers
 * scanned for the one we read (bench/push-client.ts: 1.0–1.8× `request()`'s rate over
 * 256 connections in three runs; see docs/benchmarks.md for where the rest goes).
 */
import { Pool, type Dispatcher } from 'undici';
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
  /** Connections per colo (each carries one push at a time). */
  readonly connections: number;
  readonly timeoutMs: number;
  readonly userAgent?: string;
}

const X_CACHE_STATUS = 'x-cache-status';

/**
 * One push's response, as undici's (legacy, unwrapped: no adapter per request) handler
 * interface delivers it.
 */
class PushHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private cache: string | undefined;

  constructor(
    private readonly t0: bigint,
    private readonly done: (r: PushReport) => void,
  ) {}

  onConnect(): void {}

  onHeaders(statusCode: number, headers: Buffer[] | string[] | null): boolean {
    // 1xx informational answers come first; the final status replaces them.
    this.status = statusCode;
    if (headers) {
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i] as Buffer | string;
        if (name.length === X_CACHE_STATUS.length && name.toString().toLowerCase() === X_CACHE_STATUS) {
          this.cache = (headers[i + 1] as Buffer | string).toString().toLowerCase();
        }
      }
    }
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    const status = this.status;
    const cache = this.cache;
    // The HTTP status decides first: a 404 or 503 is never a warm, whatever the cache says.
    const ok = status >= 200 && status < 300;
    const outcome = ok && cache !== undefined && CACHE_STATUSES.has(cache) ? cache : `${Math.floor(status / 100)}xx`;
    this.done({ ok, failure: status >= 500, outcome, status, cache, seconds: this.seconds() });
  }

  onError(err: Error): void {
    const code = (err as { code?: unknown }).code;
    this.done({ ok: false, failure: true, outcome: 'error', errorCode: typeof code === 'string' ? code : 'UNKNOWN', seconds: this.seconds() });
  }

  private seconds(): number {
    return Number(process.hrtime.bigint() - this.t0) / 1e9;
  }
}

export class Pusher {
  /** By colo index. */
  private readonly pools = new Map<number, Pool>();
  private readonly method: 'HEAD' | 'GET';
  private readonly headersFor = new Map<number, Record<string, string>>();
  private readonly userAgent: string;

  constructor(private readonly o: PusherOptions) {
    this.method = o.method;
    this.userAgent = o.userAgent ?? 'hearth-warmer';
  }

  private pool(colo: Colo): Pool {
    let pool = this.pools.get(colo.index);
    if (!pool) {
      pool = new Pool(this.o.proxy, {
        connections: this.o.connections,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: this.o.timeoutMs },
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      });
      this.pools.set(colo.index, pool);
      this.headersFor.set(colo.index, { host: colo.host, 'user-agent': this.userAgent, 'x-hearth-warm': '1' });
    }
    return pool;
  }

  /** Never rejects: every failure becomes an `error` outcome. */
  push(colo: Colo, path: string): Promise<PushReport> {
    return new Promise((resolve) => {
      const pool = this.pool(colo);
      const handler = new PushHandler(process.hrtime.bigint(), resolve);
      try {
        pool.dispatch(
          {
            method: this.method,
            path,
            headers: this.headersFor.get(colo.index),
            // undici closes the connection after every HEAD by default (nodejs/undici#258, for
            // servers that wrongly send a HEAD body). nginx does not, and keep-alive is the point.
            reset: false,
          },
          handler,
        );
      } catch (err) {
        // A closed or destroyed pool throws synchronously.
        handler.onError(err as Error);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
  }
}
