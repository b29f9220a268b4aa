/** The origin service's metrics, served on its own listener (never behind a cache). */
import type { MetricDef } from '../common/index.js';

/** The results `hearth_origin_requests_total` counts. */
export const ORIGIN_RESULTS = [
  'stored',
  'derived',
  'variant',
  'fallback',
  'reconstructed',
  'not_found',
  'overload',
  'damaged',
  'quarantined',
  'deleted',
  'error',
] as const;

export const ORIGIN_METRICS = {
  requests: {
    type: 'counter',
    name: 'hearth_origin_requests_total',
    help: 'Requests by result: stored, derived (a JPEG size made on the fly), variant (an AVIF or WebP of a size, made on the fly for a client that accepts it), fallback (the stored JPEG, briefly cacheable, for a client of AVIF or WebP while on-the-fly work is full: better than a 503), reconstructed (an original kept as JPEG XL), not_found, overload (503), damaged (a reconstruction refused by its digest, 500), quarantined (451: the identity tier matched it to the blocklist), deleted (410: the photo was taken back), error.',
    labelNames: ['result'],
  },
  integrity: {
    type: 'counter',
    name: 'hearth_origin_integrity_failures_total',
    help: 'Originals kept as JPEG XL that were refused, by reason: no_digest, bad_digest, undecodable, mismatch. Each is answered 500 and reported for repair; alert on any.',
    labelNames: ['reason'],
  },
  coalesced: {
    type: 'counter',
    name: 'hearth_origin_coalesced_total',
    help: 'Requests that shared the work of one already running for the same path, instead of starting their own.',
  },
  derive: {
    type: 'histogram',
    name: 'hearth_origin_derive_duration_seconds',
    help: 'Time to make one size on the fly, by size.',
    labelNames: ['size'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  },
  variant: {
    type: 'histogram',
    name: 'hearth_origin_variant_duration_seconds',
    help: 'Time to make one AVIF or WebP of a size on the fly (decode of its source, resize, encode), by format and size.',
    labelNames: ['format', 'size'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  inFlight: {
    type: 'gauge',
    name: 'hearth_origin_derives_in_flight',
    help: 'On-the-fly resizes, encodes and reconstructions running now.',
  },
} as const satisfies Record<string, MetricDef>;
