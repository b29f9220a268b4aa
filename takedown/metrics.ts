/** The purger's metrics (label `colo`; `pass` 1 at once, 2 after `repurgeAfterMs`). */
import type { MetricDef } from '../common/index.js';

/** What one colo's pass over one takedown came to. `failed` counts tries (each is tried again); the others, takedowns. */
export const PURGE_OUTCOMES = ['cached', 'absent', 'failed'] as const;

export const PURGER_METRICS = {
  takedowns: {
    type: 'counter',
    name: 'hearth_purge_takedowns_total',
    help: 'Takedowns read from hearth.images.takedown, by colo and action (delete, quarantine, refresh: a size recompressed in place, fetched again): one per photo and colo, at its first pass.',
    labelNames: ['colo', 'action'],
  },
  purges: {
    type: 'counter',
    name: 'hearth_purge_purges_total',
    help: "A colo's passes over a photo taken down, by pass and outcome: cached (some path was cached on some node, and is not now), absent (nothing was cached), failed (a node's cache could not be changed: tried again, with backoff, until it can).",
    labelNames: ['colo', 'pass', 'outcome'],
  },
  delay: {
    type: 'histogram',
    name: 'hearth_purge_delay_seconds',
    help: "From the takedown (the store holds nothing of the photo) to every node of the colo having purged every path of it, by pass. Pass 1 is the takedown's reach; pass 2 comes `repurgeAfterMs` later by design.",
    labelNames: ['colo', 'pass'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 300],
  },
  failures: {
    type: 'counter',
    name: 'hearth_purge_failures_total',
    help: 'Messages of hearth.images.takedown sent to hearth.images.dead, by reason (invalid_message, handler_error): a takedown no colo can act on.',
    labelNames: ['reason'],
  },
  requests: {
    type: 'histogram',
    name: 'hearth_purge_path_duration_seconds',
    help: 'One path purged from one cache node (its cache file removed, or found absent), by colo.',
    labelNames: ['colo'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  },
} as const satisfies Record<string, MetricDef>;

/** The takedown worker's metrics (delete requests from other systems). */
export const TAKEDOWN_WORKER_METRICS = {
  requests: {
    type: 'counter',
    name: 'hearth_takedown_requests_total',
    help: 'Delete requests carried out, by outcome: deleted (the photo was there), repeat (deleted before: whatever a crash left was looked for again, the takedown announced again).',
    labelNames: ['outcome'],
  },
  failures: {
    type: 'counter',
    name: 'hearth_takedown_failures_total',
    help: 'Requests of hearth.images.delete sent to hearth.images.dead, by reason (invalid_message, handler_error).',
    labelNames: ['reason'],
  },
} as const satisfies Record<string, MetricDef>;
