/** The race join's metrics: whether the warmer's pushes beat the viewers, per colo. */
import type { MetricDef } from '../common/index.js';

export const RACE_METRICS = {
  firstViews: {
    type: 'counter',
    name: 'hearth_race_first_views_total',
    help: 'First viewer requests of a pushed (colo, path, format class), by outcome: won (a HIT begun after the push completed), in_flight (a HIT begun while the push was still fetching: it waited on the cache lock), lost (MISS, UPDATING, …: the viewer came before the push). won / all is whether warming works; by format, whether it works for AVIF, WebP and JPEG viewers alike.',
    labelNames: ['colo', 'format', 'outcome'],
  },
  pushToView: {
    type: 'histogram',
    name: 'hearth_race_push_to_view_seconds',
    help: "From a push's completion to the start of the path's first viewer request, for first views begun after the push.",
    labelNames: ['colo'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  },
  pushLate: {
    type: 'histogram',
    name: 'hearth_race_push_late_seconds',
    help: "For first views begun before the push completed (lost, or a HIT only after waiting on the push's fetch): by how much the push was late, what the warmer would need to gain.",
    labelNames: ['colo'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  },
  inFlightWait: {
    type: 'histogram',
    name: 'hearth_race_in_flight_view_seconds',
    help: 'Request time of in_flight first views: how long a viewer who came while the push was fetching waited for its HIT.',
    labelNames: ['colo'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1],
  },
  unviewed: {
    type: 'counter',
    name: 'hearth_race_unviewed_pushes_total',
    help: 'Pushes that filled the cache and whose path, in their format class, no viewer asked for within viewWindowS (warmed for nothing).',
    labelNames: ['colo', 'format'],
  },
  evicted: {
    type: 'counter',
    name: 'hearth_race_evicted_total',
    help: 'Tracked (colo, path) pairs dropped because maxTrackedPaths was reached, by state: pushed (awaiting a view, its race is lost to the count), viewed (awaiting a push), decided.',
    labelNames: ['state'],
  },
  tracked: {
    type: 'gauge',
    name: 'hearth_race_tracked_paths',
    help: '(colo, path) pairs held in memory now (at most maxTrackedPaths).',
  },
  lines: {
    type: 'counter',
    name: 'hearth_race_log_lines_total',
    help: 'Access log lines read, by result: joined (a push or a first view), ignored (a later view, a failed push, a request the cache did not serve), malformed (not a cache node line).',
    labelNames: ['result'],
  },
  readErrors: {
    type: 'counter',
    name: 'hearth_race_log_read_errors_total',
    help: 'Errors following a log (removed, unreadable); the log is retried.',
  },
} as const satisfies Record<string, MetricDef>;
