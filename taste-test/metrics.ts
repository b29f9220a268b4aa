/** The taste-test server's metrics: is anyone answering, and are the answers usable. */
import type { MetricDef } from '../common/index.js';

export const TASTE_TEST_METRICS = {
  answers: {
    type: 'counter',
    name: 'hearth_tastetest_answers_total',
    help: 'Answers recorded, by use: counted (in the verdict), too_fast (recorded, left out: faster than minViewMs).',
    labelNames: ['use'],
  },
  pending: {
    type: 'gauge',
    name: 'hearth_tastetest_trials_pending',
    help: 'Trials handed out and not answered yet (bounded; the oldest are forgotten first).',
  },
} as const satisfies Record<string, MetricDef>;
