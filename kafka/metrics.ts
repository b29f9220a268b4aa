import type { MetricDef } from '../common/index.js';

/** What every Kafka tier's consumer reports, the same way, beside the tier's own metrics (label `group`: its consumer group). */
export const KAFKA_CONSUMER_METRICS = {
  running: {
    type: 'gauge',
    name: 'hearth_kafka_consumer_running',
    help: '1 while the consumer is in its group, 0 while it is out (starting, crashed and restarting, stopped).',
    labelNames: ['group'],
  },
  head: {
    type: 'gauge',
    name: 'hearth_kafka_consumer_head_seconds',
    help: 'How long the oldest message now in handling has been (0 when none): a message stuck at the head of its partition.',
    labelNames: ['group'],
  },
  stalled: {
    type: 'gauge',
    name: 'hearth_kafka_consumer_stalled_seconds',
    help: 'How long the consumer has had lag on its partitions without finishing a message (0 when it has none or is moving).',
    labelNames: ['group'],
  },
  retries: {
    type: 'counter',
    name: 'hearth_kafka_consumer_retries_total',
    help: 'Messages tried again after their handler failed: `transient` (a full disk, the broker; retried without limit) or `unforeseen` (dead-lettered as handler_error after kafka.maxAttempts).',
    labelNames: ['group', 'kind'],
  },
  restarts: {
    type: 'counter',
    name: 'hearth_kafka_consumer_restarts_total',
    help: 'Times the Kafka client crashed in a way it would not recover from itself, and the worker started a new consumer.',
    labelNames: ['group'],
  },
} as const satisfies Record<string, MetricDef>;
