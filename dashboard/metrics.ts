/** The dashboard's own metrics: how its queries to Prometheus fare. */
import type { MetricDef } from '../common/index.js';

export const DASHBOARD_METRICS = {
  queries: {
    type: 'counter',
    name: 'hearth_dashboard_queries_total',
    help: 'Panel queries sent to Prometheus, by result: ok, query_error (Prometheus refused the PromQL), unreachable (no answer, or not Prometheus).',
    labelNames: ['result'],
  },
  queryDuration: {
    type: 'histogram',
    name: 'hearth_dashboard_query_duration_seconds',
    help: 'Time for Prometheus to answer one panel query.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  },
} as const satisfies Record<string, MetricDef>;
