import type { MetricDef } from '../common/index.js';

/** Why a hint or a path did not become a push. Every reason is a metric label. */
export const DROP_REASONS = [
  'invalid',
  'signature',
  'stale',
  'future',
  'forbidden',
  'quarantined',
  'deleted',
  'no_colo',
  'duplicate',
  'overload',
  'colo_down',
  'shutdown',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Reasons that drop a whole datagram (the others drop single paths). */
export const DATAGRAM_DROP_REASONS = ['invalid', 'signature', 'stale', 'future', 'no_colo'] as const satisfies readonly DropReason[];

export const WARMER_METRICS = {
  datagrams: {
    type: 'counter',
    name: 'hearth_warmer_datagrams_received_total',
    help: 'UDP datagrams received, valid or not.',
  },
  paths: {
    type: 'counter',
    name: 'hearth_warmer_paths_received_total',
    help: 'Paths in schema-valid hints.',
  },
  datagramsDropped: {
    type: 'counter',
    name: 'hearth_warmer_datagrams_dropped_total',
    help: 'Whole datagrams dropped, by reason (invalid, signature, stale, future, no_colo).',
    labelNames: ['reason'],
  },
  pathsDropped: {
    type: 'counter',
    name: 'hearth_warmer_paths_dropped_total',
    help: 'Paths that did not become a push, by reason; a dropped datagram counts all its paths (an invalid one none).',
    labelNames: ['reason'],
  },
  enqueued: {
    type: 'counter',
    name: 'hearth_warmer_pushes_enqueued_total',
    help: 'Pushes accepted into the queue.',
    labelNames: ['colo'],
  },
  pushes: {
    type: 'counter',
    name: 'hearth_warmer_pushes_total',
    help: "Pushes finished, by colo and outcome: for a 2xx, the cache's X-Cache-Status lowercased (hit, miss, expired, ...; 2xx without one); otherwise the HTTP status class (3xx, 4xx, 5xx), never a warm; or error.",
    labelNames: ['colo', 'outcome'],
  },
  pushDuration: {
    type: 'histogram',
    name: 'hearth_warmer_push_duration_seconds',
    help: 'Time from dispatch to the end of the push response, by colo.',
    labelNames: ['colo'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    hot: true,
  },
  pushClient: {
    type: 'gauge',
    name: 'hearth_warmer_push_client_info',
    help: '1 for the push client that carries the pushes: native (setup builds it; plain HTTP) or undici (https, or where it is not built).',
    labelNames: ['client'],
  },
  connections: {
    type: 'gauge',
    name: 'hearth_warmer_push_connections',
    help: 'Connections open to the proxy, by colo (each carries one push at a time).',
    labelNames: ['colo'],
  },
  connects: {
    type: 'counter',
    name: 'hearth_warmer_push_connects_total',
    help: 'Connections to the proxy opened, by colo; a rate close to the push rate means keep-alive is not holding.',
    labelNames: ['colo'],
  },
  connectFailures: {
    type: 'counter',
    name: 'hearth_warmer_push_connect_failures_total',
    help: 'Connections to the proxy that failed to open (refused, timed out), by colo.',
    labelNames: ['colo'],
  },
  retries: {
    type: 'counter',
    name: 'hearth_warmer_push_retries_total',
    help: 'Pushes sent a second time on a fresh connection because the proxy had closed the kept-alive one under it, by colo (native client; undici does not retry).',
    labelNames: ['colo'],
  },
  hintAge: {
    type: 'histogram',
    name: 'hearth_warmer_hint_age_seconds',
    help: "Age of authentic hints at receipt (warmer clock minus the hint's ts; negative ages count as 0).",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    hot: true,
  },
  queueDepth: {
    type: 'gauge',
    name: 'hearth_warmer_queue_depth',
    help: 'Pushes waiting for a slot.',
  },
  inFlight: {
    type: 'gauge',
    name: 'hearth_warmer_pushes_in_flight',
    help: 'Pushes under way, by colo.',
    labelNames: ['colo'],
  },
  breakerOpen: {
    type: 'gauge',
    name: 'hearth_warmer_breaker_open',
    help: "1 while a colo's circuit breaker is open (its pushes dropped as colo_down), else 0.",
    labelNames: ['colo'],
  },
  quarantined: {
    type: 'gauge',
    name: 'hearth_warmer_quarantined_images',
    help: 'Quarantined image ids known from hearth.images.quarantined (their hints are dropped as quarantined).',
  },
  deleted: {
    type: 'gauge',
    name: 'hearth_warmer_deleted_images',
    help: 'Deleted image ids known from hearth.images.takedown (their hints, and pushes still queued for them, are dropped as deleted).',
  },
  quarantineCurrent: {
    type: 'gauge',
    name: 'hearth_warmer_quarantine_feed_current',
    help: '1 once every quarantine and takedown that existed when the feed connected has been read; 0 while catching up or away (always 1 when no feed is configured).',
  },
  dedupEntries: {
    type: 'gauge',
    name: 'hearth_warmer_dedup_entries',
    help: '(colo, path) pairs remembered as pushed or under way.',
  },
} as const satisfies Record<string, MetricDef>;
