/** The perceptual-compression worker's metrics. */
import type { MetricDef } from '../common/index.js';

export const COMPRESS_METRICS = {
  images: {
    type: 'counter',
    name: 'hearth_compress_images_total',
    help: 'Resizes handled, by result: compressed (replaced, and a refresh asked of every colo), kept (nothing smaller at the target), already (compressed before: by the resize tier before it stored the size, or a redelivery), skipped (a size not in perceptual.sizes), taken_down (the photo was deleted or quarantined since it was resized: nothing stored).',
    labelNames: ['result'],
  },
  saved: {
    type: 'counter',
    name: 'hearth_compress_bytes_saved_total',
    help: 'Bytes saved by perceptual recompression.',
  },
  duration: {
    type: 'histogram',
    name: 'hearth_compress_duration_seconds',
    help: 'Time to search and write one resize.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  },
  quality: {
    type: 'histogram',
    name: 'hearth_compress_quality_chosen',
    help: 'JPEG quality the perceptual search chose for each resize it compressed or kept (the lowest that holds the SSIM target), by size.',
    labelNames: ['size'],
    buckets: [40, 50, 60, 70, 75, 80, 85, 90, 95],
  },
  failures: {
    type: 'counter',
    name: 'hearth_compress_failures_total',
    help: 'Events sent to hearth.images.dead, by reason (invalid_message, missing_file, irregular_file, oversized_file, corrupt_file, handler_error).',
    labelNames: ['reason'],
  },
} as const satisfies Record<string, MetricDef>;
