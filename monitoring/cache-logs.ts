/**
 * How the cache nodes' access logs become metrics: Debian's mtail running Hearth's
 * program (monitoring/mtail/hearth-cache.mtail) over every node's log.
 */
import { fileURLToPath } from 'node:url';
import type { MetricDef } from '../common/index.js';
import { splitAddress } from '../topology/index.js';

/** The directory of Hearth's mtail programs. */
export const MTAIL_PROGRAMS = fileURLToPath(new URL('../../monitoring/mtail', import.meta.url));

/** mtail's arguments: these logs, Hearth's programs, metrics at `listen` (loopback, never mtail's default of every address). */
export function mtailArgs(listen: string, logs: readonly string[]): string[] {
  const { host, port } = splitAddress(listen);
  return ['--progs', MTAIL_PROGRAMS, '--logs', logs.join(','), '--address', host, '--port', String(port), '--emit_prog_label=false', '--logtostderr'];
}

/**
 * What the mtail program exports, for the docs table and the dashboard's queries. The
 * program declares these itself (mtail has no way to take them from here); the suite
 * checks that the two agree, name, type and labels.
 */
export const CACHE_LOG_METRICS = {
  requests: {
    type: 'counter',
    name: 'hearth_cache_requests_total',
    help: "Requests a cache node answered, by colo, node, role (push: the warmer's, by the colo's push Host; viewer: everyone else's), cache status (HIT, MISS, UPDATING, …; NONE when the cache was not consulted) and HTTP code.",
    labelNames: ['colo', 'node', 'role', 'cache_status', 'code'],
  },
  sent: {
    type: 'counter',
    name: 'hearth_cache_sent_bytes_total',
    help: 'Body bytes sent, by colo, node and role.',
    labelNames: ['colo', 'node', 'role'],
  },
  fromOrigin: {
    type: 'counter',
    name: 'hearth_cache_origin_received_bytes_total',
    help: 'Bytes fetched from the origin (what the caches did not offload), by colo, node and the role of the request that fetched them.',
    labelNames: ['colo', 'node', 'role'],
  },
  duration: {
    type: 'histogram',
    name: 'hearth_cache_request_duration_seconds',
    help: "nginx's request_time, by colo, node, role and cache status.",
    labelNames: ['colo', 'node', 'role', 'cache_status'],
  },
  upstream: {
    type: 'histogram',
    name: 'hearth_cache_upstream_duration_seconds',
    help: "nginx's upstream_response_time for requests that went to the origin once, by colo, node, role and cache status.",
    labelNames: ['colo', 'node', 'role', 'cache_status'],
  },
  unparsed: {
    type: 'counter',
    name: 'hearth_cache_log_unparsed_lines_total',
    help: "Lines that are not a cache node's access log line in the expected format (format drift shows here, not as missing series).",
  },
} as const satisfies Record<string, MetricDef>;
