import type { MetricDef } from '../common/index.js';

/** What the identity tier decides about an upload. */
export const IDENTITY_VERDICTS = ['accepted', 'duplicate', 'quarantined'] as const;
export type IdentityVerdict = (typeof IDENTITY_VERDICTS)[number];

/** The steps of matching one upload, timed apart. */
export const MATCH_STEPS = ['fingerprint', 'pdq', 'search'] as const;

export const IDENTITY_METRICS = {
  uploads: {
    type: 'counter',
    name: 'hearth_identity_uploads_total',
    help: 'Uploads identified, by verdict: accepted (on to the resize tier), duplicate (byte-identical to a stored image, served from its files), quarantined (matched the blocklist: never resized, 451).',
    labelNames: ['verdict'],
  },
  nearDuplicates: {
    type: 'counter',
    name: 'hearth_identity_near_duplicates_total',
    help: 'Near-duplicate events: an accepted upload within the near threshold of a stored image (one per pair).',
  },
  bytesSaved: {
    type: 'counter',
    name: 'hearth_identity_bytes_saved_total',
    help: 'Bytes not stored because an upload was a duplicate: its original (now a link) and the stored sizes it did not need.',
  },
  originals: {
    type: 'counter',
    name: 'hearth_identity_originals_total',
    help: 'Uploads decoded, by the original\'s format (jpeg, heic, avif) and whether it carries an HDR gain map (gain_map="true": no size keeps the map, so those photos are served SDR).',
    labelNames: ['format', 'gain_map'],
  },
  lowQuality: {
    type: 'counter',
    name: 'hearth_identity_low_quality_total',
    help: 'Uploads whose PDQ quality was below pdq.minQuality: matched exactly only, never perceptually.',
  },
  matchDuration: {
    type: 'histogram',
    name: 'hearth_identity_match_duration_seconds',
    help: "Time of one upload's identity steps: fingerprint (and the byte-for-byte confirmation), pdq (decode and hash), search (blocklist and stored hashes).",
    labelNames: ['step'],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  },
  indexed: {
    type: 'gauge',
    name: 'hearth_identity_indexed_images',
    help: 'Images in the ledger (accepted, with their fingerprints and PDQ hashes).',
  },
  blocklist: {
    type: 'gauge',
    name: 'hearth_identity_blocklist_hashes',
    help: 'PDQ hashes in the blocklist in force.',
  },
  backwards: {
    type: 'counter',
    name: 'hearth_identity_backward_quarantines_total',
    help: 'Photos accepted before a hash was added to the blocklist and quarantined when it was (451, purged from every colo, never pushed), by action: quarantined, lifted (the hash was removed again: served again).',
    labelNames: ['action'],
  },
  blocklistReloadFailures: {
    type: 'counter',
    name: 'hearth_identity_blocklist_reload_failures_total',
    help: 'Changed blocklist files that could not be read or parsed (the previous list stayed in force).',
  },
  failures: {
    type: 'counter',
    name: 'hearth_identity_failures_total',
    help: 'Uploads sent to hearth.images.dead, by reason (invalid_message, missing_source, irregular_source, oversized_source, corrupt_source, handler_error).',
    labelNames: ['reason'],
  },
  lag: {
    type: 'gauge',
    name: 'hearth_identity_consumer_lag',
    help: 'Messages of hearth.images.uploaded not yet committed by the group, by partition.',
    labelNames: ['partition'],
  },
} as const satisfies Record<string, MetricDef>;
