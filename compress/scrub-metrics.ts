/** Metrics of a scrub, written for node_exporter's textfile collector (`--metrics-file`). */
import { createMetrics, createRegistry, type MetricDef, type Metrics, writeTextfile } from '../common/index.js';
import { SCRUB_OUTCOMES, isDamage, type ScrubResult } from './scrub.js';

export const SCRUB_METRICS = {
  files: {
    type: 'counter',
    name: 'hearth_scrub_files_total',
    help: "Originals kept as JPEG XL checked by this scrub, by result: ok, adopted, no_digest, bad_digest, undecodable, mismatch, checksum (the store's own checksum of the object failed).",
    labelNames: ['result'],
  },
  bytes: {
    type: 'counter',
    name: 'hearth_scrub_read_bytes_total',
    help: 'Bytes of .jxl files read by this scrub.',
  },
  damaged: {
    type: 'gauge',
    name: 'hearth_scrub_damaged_files',
    help: "Files this scrub found damaged or unverifiable so far (alert on > 0; each is on the store's repair list).",
  },
  lastUpdate: {
    type: 'gauge',
    name: 'hearth_scrub_last_update_timestamp_seconds',
    help: 'When the metrics file was last written (an alert on its age finds a scrub that stopped, or never runs).',
  },
} as const satisfies Record<string, MetricDef>;

export class ScrubMetrics {
  private readonly registry = createRegistry({ component: 'scrub' });
  readonly m: Metrics<typeof SCRUB_METRICS> = createMetrics(SCRUB_METRICS, this.registry);

  constructor() {
    for (const r of SCRUB_OUTCOMES) this.m.files.labels(r).inc(0);
    this.m.damaged.set(0);
  }

  observe(r: ScrubResult): void {
    this.m.files.labels(r.outcome).inc();
    this.m.bytes.inc(r.bytes);
    if (isDamage(r.outcome)) this.m.damaged.inc();
  }

  async write(file: string): Promise<void> {
    this.m.lastUpdate.set(Date.now() / 1000);
    await writeTextfile(this.registry, file);
  }
}
