/**
 * Every chart of the dashboard, defined once: title, unit and PromQL. The page
 * (`hearth dashboard`) and the Grafana dashboard (grafana.ts) are both made from this
 * list, and the suite checks that every query returns data from a live stack.
 *
 * Windows are `[1m]`, not the alerts' `[5m]`: a chart should move within a minute of
 * what it shows; the recording rules smooth for alerting.
 */

/** How values are shown; each maps to a Grafana unit id (grafana.ts) and a formatter in the page. */
export type Unit = 'per_second' | 'seconds' | 'ratio' | 'bytes' | 'bytes_per_second' | 'count' | 'quality';

export interface PanelQuery {
  expr: string;
  /** Series name, with `{{label}}` filled from each series' labels (Grafana's legendFormat). */
  legend: string;
}

export interface PanelDef {
  id: string;
  title: string;
  unit: Unit;
  queries: readonly PanelQuery[];
  /** One line under the title: what to read from it. */
  help: string;
}

export interface SectionDef {
  title: string;
  panels: readonly PanelDef[];
}

const q = (expr: string, legend: string): PanelQuery => ({ expr, legend });
const quantile = (p: number, metric: string, by = '', where = ''): string =>
  `histogram_quantile(${p}, sum by (${by ? `${by}, ` : ''}le) (rate(${metric}_bucket${where}[1m])))`;

export const SECTIONS: readonly SectionDef[] = [
  {
    title: 'Warm path',
    panels: [
      {
        id: 'warm-hints',
        title: 'Hints and paths received',
        unit: 'per_second',
        help: 'What the API servers announce; paths/s over hints/s is the page size.',
        queries: [q('sum(rate(hearth_warmer_datagrams_received_total[1m]))', 'hints/s'), q('sum(rate(hearth_warmer_paths_received_total[1m]))', 'paths/s')],
      },
      {
        id: 'warm-drops',
        title: 'Paths dropped, by reason',
        unit: 'per_second',
        help: 'Stale, duplicate, forged, colo down …: every path that did not become a push.',
        queries: [q('sum by (reason) (rate(hearth_warmer_paths_dropped_total[1m]))', '{{reason}}')],
      },
      {
        id: 'warm-hint-age',
        title: 'Hint age at arrival',
        unit: 'seconds',
        help: 'From the API server to the warmer; beyond the TTL (~50 ms) a hint is dropped as stale.',
        queries: [q(quantile(0.5, 'hearth_warmer_hint_age_seconds'), 'p50'), q(quantile(0.99, 'hearth_warmer_hint_age_seconds'), 'p99')],
      },
      {
        id: 'warm-push-latency',
        title: 'Push latency, by colo',
        unit: 'seconds',
        help: 'A push returns once its cache holds the object: one origin round trip for a miss.',
        queries: [
          q(quantile(0.5, 'hearth_warmer_push_duration_seconds', 'colo'), '{{colo}} p50'),
          q(quantile(0.99, 'hearth_warmer_push_duration_seconds', 'colo'), '{{colo}} p99'),
        ],
      },
      {
        id: 'warm-pushes',
        title: 'Pushes, by outcome',
        unit: 'per_second',
        help: 'miss: the push filled the cache; hit: it was there already; 4xx/5xx/error: it failed.',
        queries: [q('sum by (outcome) (rate(hearth_warmer_pushes_total[1m]))', '{{outcome}}')],
      },
      {
        id: 'warm-queue',
        title: 'Push queue',
        unit: 'count',
        help: 'Pushes waiting for a slot, and in flight.',
        queries: [q('sum(hearth_warmer_queue_depth)', 'waiting'), q('sum(hearth_warmer_pushes_in_flight)', 'in flight')],
      },
      {
        id: 'warm-breakers',
        title: 'Breakers open, by colo',
        unit: 'count',
        help: "1 while a colo's pushes are dropped because it keeps failing.",
        queries: [q('max by (colo) (hearth_warmer_breaker_open)', '{{colo}}')],
      },
    ],
  },
  {
    title: 'Caches',
    panels: [
      {
        id: 'cache-hit-ratio',
        title: 'Viewer hit ratio, by colo',
        unit: 'ratio',
        help: "Viewers' requests answered from the cache (pushes not counted). Alert below 80 %.",
        queries: [
          q(
            'sum by (colo) (rate(hearth_cache_requests_total{role="viewer",cache_status="HIT"}[1m])) / sum by (colo) (rate(hearth_cache_requests_total{role="viewer",cache_status!="NONE"}[1m]))',
            '{{colo}}',
          ),
        ],
      },
      {
        id: 'cache-latency',
        title: 'Viewer latency p95, by cache status',
        unit: 'seconds',
        help: 'A HIT is local; a MISS costs an origin round trip.',
        queries: [q(quantile(0.95, 'hearth_cache_request_duration_seconds', 'cache_status', '{role="viewer"}'), '{{cache_status}}')],
      },
      {
        id: 'cache-offload',
        title: 'Origin offload',
        unit: 'bytes_per_second',
        help: 'Bytes the caches served to viewers against bytes they fetched from the origin (pushes included).',
        queries: [
          q('sum(rate(hearth_cache_sent_bytes_total{role="viewer"}[1m]))', 'served to viewers'),
          q('sum(rate(hearth_cache_origin_received_bytes_total[1m]))', 'fetched from origin'),
        ],
      },
    ],
  },
  {
    title: 'The race',
    panels: [
      {
        id: 'race-outcomes',
        title: 'First views of pushed paths: won, in flight or lost',
        unit: 'per_second',
        help: 'won: a HIT begun after the push completed; in_flight: a HIT begun while the push was still fetching (it waited on the cache lock); lost: the viewer came first. This says whether warming works.',
        queries: [q('sum by (colo, outcome) (rate(hearth_race_first_views_total[1m]))', '{{colo}} {{outcome}}')],
      },
      {
        id: 'race-by-format',
        title: 'First views that were HITs, by format class',
        unit: 'ratio',
        help: "Won or in flight, over all first views of pushed paths, per format class (AVIF, WebP, JPEG): each class is its own cached object and its own race, so a class far below the others is warmed in the wrong encoding (a hint without the viewer's Accept) or made too slowly by the origin.",
        queries: [
          q(
            'sum by (format) (rate(hearth_race_first_views_total{outcome=~"won|in_flight"}[5m])) / sum by (format) (rate(hearth_race_first_views_total[5m]))',
            '{{format}}',
          ),
        ],
      },
      {
        id: 'race-push-to-view',
        title: 'Push to first view',
        unit: 'seconds',
        help: 'How long before its first view a push completed; for viewers who came first, by how much the push was late.',
        queries: [
          q(quantile(0.5, 'hearth_race_push_to_view_seconds'), 'early by, p50'),
          q(quantile(0.5, 'hearth_race_push_late_seconds'), 'late by, p50'),
          q(quantile(0.95, 'hearth_race_in_flight_view_seconds'), 'in-flight view took, p95'),
        ],
      },
    ],
  },
  {
    title: 'Ingest',
    panels: [
      {
        id: 'ingest-uploads',
        title: 'Uploads resized',
        unit: 'per_second',
        help: 'Uploads with every size written, across the resize workers.',
        queries: [q('sum(rate(hearth_resize_images_total[1m]))', 'uploads/s'), q('sum(rate(hearth_resize_sizes_written_total[1m]))', 'sizes/s')],
      },
      {
        id: 'ingest-lag',
        title: 'Ingest backlog',
        unit: 'count',
        help: 'Uploads not yet committed by the identity tier, and accepted uploads not yet by the resize group (Kafka lag).',
        queries: [q('sum(hearth_identity_consumer_lag)', 'identity'), q('sum(hearth_resize_consumer_lag)', 'resize')],
      },
      {
        id: 'ingest-resize-duration',
        title: 'Resize time p95, by size',
        unit: 'seconds',
        help: 'Time to make and write one size.',
        queries: [q(quantile(0.95, 'hearth_resize_duration_seconds', 'size'), '{{size}}')],
      },
      {
        id: 'ingest-dead',
        title: 'Dead letters (15 min)',
        unit: 'count',
        help: 'Messages set aside by a tier, by reason; any is worth a look.',
        queries: [
          q('sum by (reason) (increase(hearth_resize_failures_total[15m]))', 'resize {{reason}}'),
          q('sum by (reason) (increase(hearth_compress_failures_total[15m]))', 'compress {{reason}}'),
          q('sum by (reason) (increase(hearth_identity_failures_total[15m]))', 'identity {{reason}}'),
        ],
      },
      {
        id: 'ingest-consumers',
        title: 'Consumers: oldest message in handling',
        unit: 'seconds',
        help: "Per tier, how long its oldest message in handling has been, and how long lag has stood with no message finished; either above kafka.stuckAfterSeconds fails the worker's /healthz, above 5 min pages (HearthConsumerStuck).",
        queries: [
          q('max by (job) (hearth_kafka_consumer_head_seconds)', '{{job}} head'),
          q('max by (job) (hearth_kafka_consumer_stalled_seconds)', '{{job}} stalled'),
        ],
      },
    ],
  },
  {
    title: 'Identity',
    panels: [
      {
        id: 'identity-verdicts',
        title: 'Uploads identified, by verdict',
        unit: 'per_second',
        help: 'accepted: on to resizing; duplicate: byte-identical to a stored image, served from its files; quarantined: matched the blocklist.',
        queries: [
          q('sum by (verdict) (rate(hearth_identity_uploads_total[1m]))', '{{verdict}}'),
          q('sum(rate(hearth_identity_near_duplicates_total[1m]))', 'near-duplicate events'),
        ],
      },
      {
        id: 'identity-flags',
        title: 'Quarantines and near-duplicates (15 min)',
        unit: 'count',
        help: 'Any quarantine pages (HearthUploadQuarantined); near-duplicates are events for the site to act on.',
        queries: [
          q('sum(increase(hearth_identity_uploads_total{verdict="quarantined"}[15m]))', 'quarantined'),
          q('sum(increase(hearth_identity_near_duplicates_total[15m]))', 'near-duplicates'),
        ],
      },
      {
        id: 'identity-formats',
        title: 'Uploads by format, and HDR gain maps',
        unit: 'per_second',
        help: "The originals' formats (a phone's HEIC is decoded by libheif, the costlier decode); gain maps are counted because no size keeps them: those photos are served SDR.",
        queries: [
          q('sum by (format) (rate(hearth_identity_originals_total[1m]))', '{{format}}'),
          q('sum(rate(hearth_identity_originals_total{gain_map="true"}[1m]))', 'with a gain map'),
        ],
      },
      {
        id: 'identity-saved',
        title: 'Bytes saved by duplicates',
        unit: 'bytes',
        help: 'Originals stored once (linked) and the sizes not made again.',
        queries: [q('sum(hearth_identity_bytes_saved_total)', 'saved')],
      },
      {
        id: 'identity-match',
        title: 'Match time p95, by step',
        unit: 'seconds',
        help: 'fingerprint and byte-for-byte confirmation; PDQ hashing (decode included); search of the blocklist and the stored hashes.',
        queries: [q(quantile(0.95, 'hearth_identity_match_duration_seconds', 'step'), '{{step}}')],
      },
    ],
  },
  {
    title: 'Compression',
    panels: [
      {
        id: 'compress-saved',
        title: 'Bytes saved',
        unit: 'bytes',
        help: 'The perceptual pass over resizes (run by the resize tier before a size is stored; by the perceptual worker on sizes stored before that), and originals kept losslessly as JPEG XL.',
        queries: [
          q('sum(hearth_resize_perceptual_bytes_saved_total)', 'perceptual, at write'),
          q('sum(hearth_compress_bytes_saved_total)', 'perceptual, sizes from before'),
          q('sum(hearth_lossless_input_bytes_total) - sum(hearth_lossless_output_bytes_total)', 'lossless'),
        ],
      },
      {
        id: 'compress-quality',
        title: 'Perceptual quality chosen, by size',
        unit: 'quality',
        help: 'The lowest JPEG quality that keeps the SSIM target (median), as the resize tier chose it before storing each size.',
        queries: [q('histogram_quantile(0.5, sum by (size, le) (hearth_resize_perceptual_quality_chosen_bucket))', '{{size}}')],
      },
      {
        id: 'compress-variants',
        title: 'AVIF and WebP stored at upload: bytes saved against the JPEG',
        unit: 'ratio',
        help: "Each stored size's AVIF and WebP at the lowest quality that scores as its JPEG does (the resize tier's search per image): the share of bytes a view of that class saves. Where none was smaller, the class gets the JPEG (counted at 0 saved).",
        queries: [
          q('1 - sum by (format) (hearth_resize_variant_bytes_total) / clamp_min(sum by (format) (hearth_resize_variant_jpeg_bytes_total), 1)', '{{format}}'),
        ],
      },
      {
        id: 'compress-variant-cost',
        title: 'Variant search time per upload',
        unit: 'seconds',
        help: "CPU seconds the resize tier's searches for each upload's AVIF and WebP take (one core), by format: what variants add to the tier's work (variants.formats and variants.sizes set it).",
        queries: [
          q('sum by (format) (rate(hearth_resize_variant_seconds_sum[5m])) / scalar(clamp_min(sum(rate(hearth_resize_images_total[5m])), 1e-9))', '{{format}}'),
        ],
      },
      {
        id: 'compress-lossless',
        title: 'Lossless: throughput and mismatches',
        unit: 'count',
        help: 'MB/s per lane of the last batches, and originals whose JPEG XL did not verify (kept, never dropped).',
        queries: [
          q('sum(hearth_lossless_input_bytes_total) / 1e6 / clamp_min(sum(hearth_lossless_file_duration_seconds_sum), 1e-9)', 'MB/s per lane'),
          q('sum(hearth_lossless_files_total{outcome="mismatch"})', 'mismatches'),
        ],
      },
    ],
  },
  {
    title: 'Origin',
    panels: [
      {
        id: 'origin-requests',
        title: 'Origin requests, by result',
        unit: 'per_second',
        help: 'stored: a file as it is; derived: a JPEG size made on the fly; variant: an AVIF or WebP made on the fly; reconstructed: an original from JPEG XL; overload: shed with 503.',
        queries: [q('sum by (result) (rate(hearth_origin_requests_total[1m]))', '{{result}}')],
      },
      {
        id: 'origin-variants',
        title: 'AVIF and WebP made on the fly, p50 and p99, by format',
        unit: 'seconds',
        help: "Decode, resize and encode of one variant (docs/formats.md): an AVIF takes several JPEG resizes' time, and every cache miss of one costs it; a push pays it before the viewer asks.",
        queries: [
          q(quantile(0.5, 'hearth_origin_variant_duration_seconds', 'format'), '{{format}} p50'),
          q(quantile(0.99, 'hearth_origin_variant_duration_seconds', 'format'), '{{format}} p99'),
        ],
      },
    ],
  },
  {
    title: 'Takedowns',
    panels: [
      {
        id: 'takedown-reach',
        title: 'Takedown to every node purged, p50 and p99, by colo',
        unit: 'seconds',
        help: 'From the store holding nothing of a photo to every cache node of the colo having dropped every path of it (pass 1; pass 2 repeats it after the longest origin fetch). Target p50 150 ms, p99 1 s (HearthPurgeSlow).',
        queries: [
          q(quantile(0.5, 'hearth_purge_delay_seconds', 'colo', '{pass="1"}'), '{{colo}} p50'),
          q(quantile(0.99, 'hearth_purge_delay_seconds', 'colo', '{pass="1"}'), '{{colo}} p99'),
        ],
      },
      {
        id: 'takedown-purges',
        title: 'Photos taken down and purged (15 min)',
        unit: 'count',
        help: 'Takedowns by action (delete, quarantine), purges by colo and outcome (cached: something was dropped; failed: a try that will be repeated, HearthPurgeFailing), and paths of deleted photos the warmer refused to push.',
        queries: [
          q('max by (action) (increase(hearth_purge_takedowns_total[15m]))', '{{action}}'),
          q('sum by (colo, outcome) (increase(hearth_purge_purges_total{pass="1"}[15m]))', '{{colo}} {{outcome}}'),
          q('sum(increase(hearth_warmer_paths_dropped_total{reason="deleted"}[15m]))', 'pushes refused'),
        ],
      },
    ],
  },
  {
    title: 'Store',
    panels: [
      {
        id: 'store-space',
        title: 'Store: bytes, free disk and reserve',
        unit: 'bytes',
        help: 'Volume bytes and the live bytes in them (the rest is garbage compaction frees), free disk and the reserve below which puts are refused (HearthStoreDiskLow, HearthStoreRefusingPuts). Empty while the store is a directory.',
        queries: [
          q('sum(hearth_store_volume_bytes)', 'volumes'),
          q('sum(hearth_store_live_bytes)', 'live'),
          q('min(hearth_store_free_bytes)', 'free'),
          q('max(hearth_store_reserve_bytes)', 'reserve'),
        ],
      },
      {
        id: 'store-latency',
        title: 'Store request latency p99, by operation',
        unit: 'seconds',
        help: 'A put includes its group commit: the volume fsync and the index fsync, shared by every write of the batch.',
        queries: [q('histogram_quantile(0.99, sum by (le, op) (rate(hearth_store_request_duration_seconds_bucket[5m])))', '{{op}}')],
      },
      {
        id: 'store-commits',
        title: 'Store: writes per fsync, garbage ratio, objects (k)',
        unit: 'count',
        help: 'Mean writes per group commit (more under load: each fsync serves them all), the share of volume bytes that is garbage, and the live objects in thousands.',
        queries: [
          q('sum(rate(hearth_store_commit_writes_sum[5m])) / clamp_min(sum(rate(hearth_store_commit_writes_count[5m])), 1e-9)', 'writes per fsync'),
          q('max(hearth_store_garbage_ratio)', 'garbage ratio'),
          q('sum(hearth_store_objects) / 1000', 'objects (k)'),
        ],
      },
      {
        id: 'store-report',
        title: 'Store: bytes per photo by kind, and saved (last report)',
        unit: 'bytes',
        help: "From the last `hearth store report --metrics-file` (a batch job: run it from a timer into the textfile collector): what a photo costs by kind (originals, JPEG XL originals, each stored size) and what JPEG XL originals and perceptual sizes saved per photo. Which sizes are stored is the resize tier's `storedSizes`.",
        queries: [
          q('sum by (kind) (hearth_store_report_bytes) / scalar(max(hearth_store_report_photos) > 0)', '{{kind}}'),
          q('sum by (technique) (hearth_store_report_saved_bytes) / scalar(max(hearth_store_report_photos) > 0)', 'saved: {{technique}}'),
        ],
      },
      {
        id: 'store-integrity',
        title: 'Store: damaged objects and refused puts (15 min)',
        unit: 'count',
        help: 'Needles that failed their checksum (never served; on the repair list; HearthStoreIntegrityFailure pages) and group commits refused at the disk reserve.',
        queries: [
          q('sum(increase(hearth_store_integrity_failures_total[15m]))', 'integrity failures'),
          q('sum(increase(hearth_store_full_refusals_total[15m]))', 'refused (disk full)'),
        ],
      },
      {
        id: 'store-ceph-capacity',
        title: 'Ceph: capacity used and total',
        unit: 'bytes',
        help: "Raw bytes of the cluster's OSDs (every object counts three times: pools keep three copies), from the manager's Prometheus module (HearthCephNearFull at 75 %). Empty unless the store is on Ceph.",
        queries: [q('max(ceph_cluster_total_used_bytes)', 'used'), q('max(ceph_cluster_total_bytes)', 'total')],
      },
      {
        id: 'store-ceph-health',
        title: 'Ceph: OSDs up, degraded objects, placement groups not active',
        unit: 'count',
        help: 'OSDs up and in; object copies short of their three (degraded: HearthCephDegraded); placement groups not active, whose objects can be neither read nor written (HearthCephUnavailable). An OSD down (HearthCephOsdDown) degrades objects until it returns or its copies are made elsewhere.',
        queries: [
          q('sum(ceph_osd_up)', 'OSDs up'),
          q('sum(ceph_osd_in)', 'OSDs in'),
          q('max(ceph_num_objects_degraded)', 'degraded objects'),
          q('sum(ceph_pg_total) - sum(ceph_pg_active)', 'PGs not active'),
        ],
      },
    ],
  },
];

export const PANELS: readonly PanelDef[] = SECTIONS.flatMap((s) => s.panels);

/** A series' name from its legend template and labels (`{{colo}} p50`). */
export function legendFor(template: string, labels: Record<string, string>): string {
  return template.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, k: string) => labels[k] ?? '');
}
