/**
 * Metrics of a lossless batch. The batch is a command, not a daemon, so there is nothing
 * to scrape: with `--metrics-file` it writes them in Prometheus text format for
 * node_exporter's textfile collector, atomically (the collector must never read half a
 * file), during the run and at its end.
 */
import { createMetrics, createRegistry, type MetricDef, type Metrics, writeTextfile } from '../common/index.js';
import type { LosslessResult } from './lossless.js';

export const LOSSLESS_METRICS = {
  files: {
    type: 'counter',
    name: 'hearth_lossless_files_total',
    help: 'Originals handled, by outcome: converted, finished_earlier_run, mismatch (kept, recorded in the ledger), not_jpeg (kept), skipped_policy, skipped_ledger.',
    labelNames: ['outcome'],
  },
  bytesIn: {
    type: 'counter',
    name: 'hearth_lossless_input_bytes_total',
    help: 'Bytes of the originals converted.',
  },
  bytesOut: {
    type: 'counter',
    name: 'hearth_lossless_output_bytes_total',
    help: 'Bytes of the verified .jxl files that replaced them.',
  },
  duration: {
    type: 'histogram',
    name: 'hearth_lossless_file_duration_seconds',
    help: 'Time per original: transcode, fsync, verify, rename, remove.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  lastRun: {
    type: 'gauge',
    name: 'hearth_lossless_last_update_timestamp_seconds',
    help: 'When the metrics file was last written (an alert on its age finds a batch that stopped).',
  },
} as const satisfies Record<string, MetricDef>;

/** What happens to each original, as `hearth_lossless_files_total` counts it. */
export const LOSSLESS_OUTCOMES = ['converted', 'skipped_policy', 'skipped_ledger', 'mismatch', 'not_jpeg', 'finished_earlier_run'] as const;

export class LosslessMetrics {
  private readonly registry = createRegistry({ component: 'lossless' });
  readonly m: Metrics<typeof LOSSLESS_METRICS> = createMetrics(LOSSLESS_METRICS, this.registry);

  constructor() {
    // Every outcome in the file, at 0 too: "no mismatch" is a value a panel can show.
    for (const o of LOSSLESS_OUTCOMES) this.m.files.labels(o).inc(0);
  }

  observe(r: LosslessResult): void {
    this.m.files.labels(r.outcome).inc();
    if (r.outcome === 'converted' || r.outcome === 'finished_earlier_run') {
      this.m.bytesIn.inc(r.bytesBefore ?? 0);
      this.m.bytesOut.inc(r.bytesAfter ?? 0);
    }
    if (r.seconds !== undefined && r.outcome !== 'skipped_policy' && r.outcome !== 'skipped_ledger') this.m.duration.observe(r.seconds);
  }

  async write(file: string): Promise<void> {
    this.m.lastRun.set(Date.now() / 1000);
    await writeTextfile(this.registry, file);
  }
}
