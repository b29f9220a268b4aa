import type { MetricDef } from '../common/index.js';

export const RESIZE_METRICS = {
  duration: {
    type: 'histogram',
    name: 'hearth_resize_duration_seconds',
    help: 'Time to make and write one size, by size.',
    labelNames: ['size'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  },
  images: {
    type: 'counter',
    name: 'hearth_resize_images_total',
    help: 'Uploads fully resized (every size written and its events acknowledged).',
  },
  perceptual: {
    type: 'histogram',
    name: 'hearth_resize_perceptual_seconds',
    help: 'The perceptual pass over one size before it is stored, by size: what it adds to the time from upload to a stored size.',
    labelNames: ['size'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  },
  quality: {
    type: 'histogram',
    name: 'hearth_resize_perceptual_quality_chosen',
    help: 'JPEG quality the perceptual pass chose for each size before it was stored (the lowest that holds the SSIM target), by size.',
    labelNames: ['size'],
    buckets: [40, 50, 60, 70, 75, 80, 85, 90, 95],
  },
  saved: {
    type: 'counter',
    name: 'hearth_resize_perceptual_bytes_saved_total',
    help: 'Bytes the perceptual pass saved on the sizes this tier stored.',
  },
  variants: {
    type: 'counter',
    name: 'hearth_resize_variants_total',
    help: "AVIF and WebP stored beside a size, by format, size and result: created (at the lowest quality that scores as the JPEG does), jpeg (none smaller than the JPEG at that score, or none reached it: the JPEG's bytes are that class's), exists (already stored: the origin made it for a viewer first, or a redelivery), taken_down (the photo was deleted or quarantined meanwhile).",
    labelNames: ['format', 'size', 'result'],
  },
  variantSeconds: {
    type: 'histogram',
    name: 'hearth_resize_variant_seconds',
    help: "The search for one variant's quality and its store, by format and size: what variants add to the tier's work per upload.",
    labelNames: ['format', 'size'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  variantQuality: {
    type: 'histogram',
    name: 'hearth_resize_variant_quality_chosen',
    help: 'Quality the search chose for each variant it stored (the lowest that scores as the JPEG of the size does), by format and size.',
    labelNames: ['format', 'size'],
    buckets: [30, 40, 50, 60, 65, 70, 75, 80, 85, 90, 95],
  },
  variantBytes: {
    type: 'counter',
    name: 'hearth_resize_variant_bytes_total',
    help: 'Bytes of the variants this tier stored (a JPEG kept for a class counted as its bytes), by format; against hearth_resize_variant_jpeg_bytes_total, the share of bytes a view of that format saves.',
    labelNames: ['format'],
  },
  variantJpegBytes: {
    type: 'counter',
    name: 'hearth_resize_variant_jpeg_bytes_total',
    help: 'Bytes of the JPEGs those variants stand beside (each counted once per variant), by format.',
    labelNames: ['format'],
  },
  takenDown: {
    type: 'counter',
    name: 'hearth_resize_taken_down_total',
    help: 'Accepted uploads not resized because the photo was deleted or quarantined before the tier came to it.',
  },
  sizes: {
    type: 'counter',
    name: 'hearth_resize_sizes_written_total',
    help: 'Sizes made, by size and outcome: created (stored), exists (the origin had made it on demand for a viewer first: its bytes stand), taken_down (the photo was deleted or quarantined meanwhile).',
    labelNames: ['size', 'outcome'],
  },
  failures: {
    type: 'counter',
    name: 'hearth_resize_failures_total',
    help: 'Uploads sent to hearth.images.dead, by reason (invalid_message, missing_source, irregular_source, oversized_source, corrupt_source, handler_error).',
    labelNames: ['reason'],
  },
  lag: {
    type: 'gauge',
    name: 'hearth_resize_consumer_lag',
    help: 'Messages of hearth.images.accepted not yet committed by the group, by partition.',
    labelNames: ['partition'],
  },
} as const satisfies Record<string, MetricDef>;
