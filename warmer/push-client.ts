/** The push client's face, as both carry it (the native engine and undici), and what one push came to. */
import type { PushResult } from './push-scheduler.js';
import type { FormatClass } from '@hearth/api-hook';

/** nginx's $upstream_cache_status values; anything else is reported by status class. The native engine's codes must name the same (a test checks). */
export const CACHE_STATUSES: ReadonlySet<string> = new Set(['hit', 'miss', 'expired', 'stale', 'updating', 'revalidated', 'bypass']);

export interface PushReport extends PushResult {
  /** Metric label: the cache status of a 2xx, else the status class (4xx, 5xx, ...), or `error`. */
  readonly outcome: string;
  readonly status?: number;
  /** X-Cache-Status as the cache said it, lowercased (a 404 can be a HIT of a cached 404). */
  readonly cache?: string;
  /** Why it failed when outcome is `error` (ECONNREFUSED, HEARTH_ERR_TIMEOUT, UND_ERR_HEADERS_TIMEOUT, ...). */
  readonly errorCode?: string;
  readonly seconds: number;
}

/** A whole response. The HTTP status decides first: a 404 or 503 is never a warm, whatever the cache says. */
export function responseReport(status: number, cache: string | undefined, seconds: number): PushReport {
  const ok = status >= 200 && status < 300;
  const outcome = ok && cache !== undefined && CACHE_STATUSES.has(cache) ? cache : `${Math.floor(status / 100)}xx`;
  return { ok, failure: status >= 500, outcome, status, cache, seconds };
}

/** No whole response: counts against the colo's breaker. */
export function errorReport(errorCode: string, seconds: number): PushReport {
  return { ok: false, failure: true, outcome: 'error', errorCode, seconds };
}

/** How the warmer hands a push over and learns how it went. Opened and closed with its transport (transport.ts). */
export interface PushClient {
  /** `native` or `undici`: which client carries the pushes (a metric label). */
  readonly kind: string;
  /** Starts one push of `path` in the encoding of `format` (its `Accept`); `done` is called exactly once, never before `push` returns. */
  push(coloIndex: number, coloHost: string, path: string, format: FormatClass, done: (r: PushReport) => void): void;
  /** Open connections to the proxy, by colo index. */
  connections(coloIndex: number): number;
  /** Connections opened, failed to open and pushes sent again on a fresh connection, by colo index, since start. */
  counters(coloIndex: number): { connects: number; connectFailures: number; retries: number };
}
