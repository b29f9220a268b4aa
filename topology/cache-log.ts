/**
 * The access log line every nginx instance of a topology writes: one JSON object per
 * request. nginx writes it (proxy-config renders `cacheLogFormat`); mtail
 * (monitoring/mtail) and the race join (race/) read it. Keeping the format and its
 * parser together is what keeps writer and readers agreeing.
 */
import { DEFAULT_FORMAT_CLASS, FORMAT_CLASSES, isFormatClass, type FormatClass } from '@hearth/api-hook';

/** The nginx `log_format` directive. Cache nodes add the request's format class, their colo, node and the request's role. */
export function cacheLogFormat(cache?: { colo: string; node: string }): string {
  const tail = cache ? `,"format":"$hearth_format","colo":"${cache.colo}","node":"${cache.node}","role":"$hearth_role"` : '';
  // `msec` (completion, ms resolution) minus `request_time` is when a request began: the
  // race join compares a viewer's start with a push's completion. Field order is part of
  // the contract: mtail matches it with one regular expression.
  return `log_format hearth escape=json '{"time":"$time_iso8601","remote":"$remote_addr","host":"$host","method":"$request_method",'
      '"uri":"$uri","args":"$args","status":$status,"bytes":$body_bytes_sent,"cache":"$upstream_cache_status",'
      '"request_time":$request_time,"upstream_time":"$upstream_response_time","upstream":"$upstream_addr",'
      '"connection":$connection,"connection_requests":$connection_requests,"tls_reused":"$ssl_session_reused",'
      '"msec":$msec,"upstream_bytes":"$upstream_bytes_received"${tail}}';`;
}

/** What the readers of a cache node's line use. */
export interface CacheLogLine {
  colo: string;
  node: string;
  /** `push`: the warmer's request (the colo's push Host); `viewer`: anyone else's. */
  role: 'push' | 'viewer';
  uri: string;
  /** The format class the cache keyed the request by (a line from before classes: `jpeg`). */
  format: FormatClass;
  status: number;
  /** Body bytes sent (`$body_bytes_sent`). */
  bytes: number;
  /** nginx's `$upstream_cache_status` (HIT, MISS, UPDATING, …); empty when the cache was not consulted. */
  cache: string;
  /** When the request completed, in seconds since the epoch (ms resolution). */
  msec: number;
  /** Seconds from the first byte read to the last byte sent (ms resolution). */
  requestTime: number;
}

/** Parses a cache node's line; a string says why it is not one. Never throws. */
export function parseCacheLogLine(line: string): CacheLogLine | string {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof o !== 'object' || o === null) return 'not a JSON object';
  const r = o as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof r[k] === 'string' ? r[k] : undefined);
  const num = (k: string): number | undefined => (typeof r[k] === 'number' && Number.isFinite(r[k]) ? r[k] : undefined);
  const colo = str('colo');
  const node = str('node');
  const role = str('role');
  const uri = str('uri');
  const format = r.format === undefined ? DEFAULT_FORMAT_CLASS : r.format;
  const cache = str('cache');
  const status = num('status');
  const bytes = num('bytes') ?? 0;
  const msec = num('msec');
  const requestTime = num('request_time');
  const missing = Object.entries({ colo, node, uri, cache, status, msec, request_time: requestTime })
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  if (missing.length > 0) return `missing or mistyped: ${missing.join(', ')}`;
  if (role !== 'push' && role !== 'viewer') return `role: expected push or viewer (got ${JSON.stringify(r.role)})`;
  if (!isFormatClass(format)) return `format: expected ${FORMAT_CLASSES.join(', ')} (got ${JSON.stringify(r.format)})`;
  return { colo: colo!, node: node!, role, uri: uri!, format, status: status!, bytes, cache: cache!, msec: msec!, requestTime: requestTime! };
}
