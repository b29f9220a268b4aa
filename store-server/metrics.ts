/** The store service's metrics, on its status listener. */
import { createMetrics, createRegistry, writeTextfile, type MetricDef, type Metrics } from '../common/index.js';
import type { StoreReport } from './report.js';

/** The operations `hearth_store_requests_total` and the latency histogram count. */
export const STORE_OPS = ['get', 'head', 'put', 'put_if_absent', 'copy', 'delete', 'list', 'report_damage'] as const;
/** Their results. */
export const STORE_RESULTS = ['ok', 'not_found', 'exists', 'damaged', 'full', 'refused', 'error'] as const;

export const STORE_METRICS = {
  requests: {
    type: 'counter',
    name: 'hearth_store_requests_total',
    help: 'Store requests by operation (get, head, put, put_if_absent, copy, delete, list, report_damage: a tier adding to the repair list) and result: ok, not_found, exists (a create-only put of a key that exists), damaged (a needle that failed its checksum: 500, never served), full (puts refused at the disk reserve: 507), refused (a bad key, metadata or size), error.',
    labelNames: ['op', 'result'],
  },
  duration: {
    type: 'histogram',
    name: 'hearth_store_request_duration_seconds',
    help: 'Time to answer one store request, by operation and driver (a put includes its group commit and fsyncs).',
    labelNames: ['op', 'driver'],
    buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  },
  batch: {
    type: 'histogram',
    name: 'hearth_store_commit_writes',
    help: 'Writes one group commit covered (one volume fsync and one index fsync for all of them).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  },
  commit: {
    type: 'histogram',
    name: 'hearth_store_commit_duration_seconds',
    help: 'Time of one group commit: append, volume fsync, index append, index fsync.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  },
  integrity: {
    type: 'counter',
    name: 'hearth_store_integrity_failures_total',
    help: 'Needles that failed their checksum, on a read or in a scan at start: never served, each logged with repair: true and added to the repair list. Alert on any.',
  },
  torn: {
    type: 'counter',
    name: 'hearth_store_torn_tails_total',
    help: 'Torn tails cut off at start: bytes a crash left after the last whole needle, never acknowledged.',
  },
  full: {
    type: 'counter',
    name: 'hearth_store_full_refusals_total',
    help: 'Group commits whose puts were refused for want of disk space (at the reserve, or ENOSPC).',
  },
  objects: { type: 'gauge', name: 'hearth_store_objects', help: 'Live objects in the store.' },
  bytes: { type: 'gauge', name: 'hearth_store_volume_bytes', help: 'Bytes of every volume file.' },
  live: { type: 'gauge', name: 'hearth_store_live_bytes', help: 'Bytes of the needles the index points at (the rest is garbage compaction frees).' },
  garbage: {
    type: 'gauge',
    name: 'hearth_store_garbage_ratio',
    help: 'Share of volume bytes no live object holds (deleted or replaced needles): what compaction would free.',
  },
  index: { type: 'gauge', name: 'hearth_store_index_bytes', help: 'Memory of the in-memory index (15 bytes a needle, plus its run of new entries).' },
  free: { type: 'gauge', name: 'hearth_store_free_bytes', help: 'Bytes free on the disk of the volumes, to this process.' },
  reserve: { type: 'gauge', name: 'hearth_store_reserve_bytes', help: 'Free bytes below which puts are refused (volumes.minFreeBytes).' },
  volumes: { type: 'gauge', name: 'hearth_store_volumes', help: 'Volume files.' },
} as const satisfies Record<string, MetricDef>;

/** `hearth store verify --metrics-file`: for node-exporter's textfile collector. */
export const VERIFY_METRICS = {
  needles: { type: 'gauge', name: 'hearth_store_verify_needles', help: 'Live needles this verify has read and checked so far.' },
  bytes: { type: 'gauge', name: 'hearth_store_verify_read_bytes', help: 'Bytes this verify has read so far.' },
  damaged: {
    type: 'gauge',
    name: 'hearth_store_verify_damaged_needles',
    help: 'Needles this verify found failing their checksum (alert on > 0; each is on the repair list).',
  },
  lastUpdate: {
    type: 'gauge',
    name: 'hearth_store_verify_last_update_timestamp_seconds',
    help: 'When the metrics file was last written (its age finds a verify that stopped, or never runs).',
  },
} as const satisfies Record<string, MetricDef>;

/** `hearth store report --metrics-file`: the report's figures for the dashboard's store row. */
export const REPORT_METRICS = {
  bytes: {
    type: 'gauge',
    name: 'hearth_store_report_bytes',
    help: 'Bytes the store holds by kind at the last report: originals, jxl_originals (originals kept only as JPEG XL), size_<x> (each stored size), variant_avif and variant_webp (sizes in those encodings, stored by the resize tier at upload or by the origin when it made one), quarantined, other.',
    labelNames: ['kind'],
  },
  photos: { type: 'gauge', name: 'hearth_store_report_photos', help: 'Distinct images with an original or a stored size, at the last report.' },
  saved: {
    type: 'gauge',
    name: 'hearth_store_report_saved_bytes',
    help: 'Bytes each technique saved, at the last report: lossless (JPEG XL originals, against the originals their digests describe), perceptual (sizes, from their markers).',
    labelNames: ['technique'],
  },
  lastUpdate: {
    type: 'gauge',
    name: 'hearth_store_report_last_update_timestamp_seconds',
    help: 'When the report last ran to the end (its figures are as of then).',
  },
} as const satisfies Record<string, MetricDef>;

export class ReportMetrics {
  private readonly registry = createRegistry({ component: 'store-report' });
  readonly m: Metrics<typeof REPORT_METRICS> = createMetrics(REPORT_METRICS, this.registry);

  async write(r: StoreReport, file: string): Promise<void> {
    const kinds: Record<string, number> = {
      originals: r.bytes.originals,
      jxl_originals: r.bytes.jxlOriginals,
      quarantined: r.bytes.quarantined,
      other: r.bytes.other,
    };
    for (const [size, b] of Object.entries(r.bytes.sizes)) kinds[`size_${size}`] = b;
    for (const [format, b] of Object.entries(r.bytes.variants)) kinds[`variant_${format}`] = b;
    for (const [kind, b] of Object.entries(kinds)) this.m.bytes.labels(kind).set(b);
    this.m.photos.set(r.photos);
    this.m.saved.labels('lossless').set(r.saved.lossless);
    this.m.saved.labels('perceptual').set(r.saved.perceptual);
    this.m.lastUpdate.set(Date.now() / 1000);
    await writeTextfile(this.registry, file);
  }
}

export class VerifyMetrics {
  private readonly registry = createRegistry({ component: 'store-verify' });
  readonly m: Metrics<typeof VERIFY_METRICS> = createMetrics(VERIFY_METRICS, this.registry);

  constructor() {
    this.observe(0, 0, 0);
  }

  progress(needles: number, bytes: number): void {
    this.m.needles.set(needles);
    this.m.bytes.set(bytes);
  }

  observe(needles: number, bytes: number, damaged: number): void {
    this.progress(needles, bytes);
    this.m.damaged.set(damaged);
  }

  async write(file: string): Promise<void> {
    this.m.lastUpdate.set(Date.now() / 1000);
    await writeTextfile(this.registry, file);
  }
}
