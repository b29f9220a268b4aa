/**
 * The push client in JavaScript, on undici: for an `https://` proxy, and wherever the
 * native engine (warmer/native/push-client.c) is not built. Same shape as the native
 * one: a pool of its own per colo, one push per connection at a time (nginx answers one
 * connection's requests one after another, so a slow colo must hold only its own
 * connections), through `dispatch()` with a handler object rather than `request()`: no
 * response stream, no promise chain, raw headers scanned for the one we read. It costs
 * ~30 µs of the event loop's CPU per push (docs/benchmarks.md); the native client
 * costs the event loop ~1 µs.
 */
import { Pool, type Dispatcher } from 'undici';
import { errorReport, responseReport, type PushClient, type PushReport } from './push-client.js';
import { CLASS_ACCEPT, FORMAT_CLASSES, type FormatClass } from '@hearth/api-hook';

export interface UndiciPushClientOptions {
  readonly proxy: string;
  readonly method: 'HEAD' | 'GET';
  /** Connections per colo (each carries one push at a time). */
  readonly connections: number;
  readonly timeoutMs: number;
  readonly userAgent: string;
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
    this.done(responseReport(this.status, this.cache, this.seconds()));
  }

  onError(err: Error): void {
    const code = (err as { code?: unknown }).code;
    this.done(errorReport(typeof code === 'string' ? code : 'UNKNOWN', this.seconds()));
  }

  private seconds(): number {
    return Number(process.hrtime.bigint() - this.t0) / 1e9;
  }
}

interface ColoPool {
  readonly pool: Pool;
  /** The request's headers, by the format class it asks for. */
  readonly headers: Record<FormatClass, Record<string, string>>;
  connects: number;
  connectFailures: number;
}

export class UndiciPushClient implements PushClient {
  readonly kind = 'undici';
  /** By colo index. */
  private readonly pools = new Map<number, ColoPool>();

  constructor(private readonly o: UndiciPushClientOptions) {}

  private pool(coloIndex: number, host: string): ColoPool {
    let p = this.pools.get(coloIndex);
    if (!p) {
      const pool = new Pool(this.o.proxy, {
        connections: this.o.connections,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: this.o.timeoutMs },
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      });
      const headers = Object.fromEntries(
        FORMAT_CLASSES.map((f) => [f, { host, 'user-agent': this.o.userAgent, accept: CLASS_ACCEPT[f], 'x-hearth-warm': '1' }]),
      ) as unknown as ColoPool['headers'];
      const entry: ColoPool = { pool, headers, connects: 0, connectFailures: 0 };
      pool.on('connect', () => entry.connects++);
      pool.on('connectionError', () => entry.connectFailures++);
      this.pools.set(coloIndex, entry);
      p = entry;
    }
    return p;
  }

  /** Never throws: every failure becomes an `error` outcome. */
  push(coloIndex: number, coloHost: string, path: string, format: FormatClass, done: (r: PushReport) => void): void {
    const { pool, headers: byFormat } = this.pool(coloIndex, coloHost);
    const headers = byFormat[format];
    const handler = new PushHandler(process.hrtime.bigint(), done);
    try {
      pool.dispatch(
        {
          method: this.o.method,
          path,
          headers,
          // undici closes the connection after every HEAD by default (nodejs/undici#258, for
          // servers that wrongly send a HEAD body). nginx does not, and keep-alive is the point.
          reset: false,
        },
        handler,
      );
    } catch (err) {
      // A closed or destroyed pool throws synchronously; `done` must still come later.
      queueMicrotask(() => handler.onError(err as Error));
    }
  }

  connections(coloIndex: number): number {
    return this.pools.get(coloIndex)?.pool.stats.connected ?? 0;
  }

  counters(coloIndex: number): { connects: number; connectFailures: number; retries: number } {
    const p = this.pools.get(coloIndex);
    return { connects: p?.connects ?? 0, connectFailures: p?.connectFailures ?? 0, retries: 0 };
  }

  /** After the pushes in flight finished. */
  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.pool.close()));
  }

  /** Abandons what is in flight. */
  async destroy(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.pool.destroy()));
  }
}
