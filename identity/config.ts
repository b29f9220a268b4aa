import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';
import { kafkaSection } from '../kafka/index.js';
import { isDirStore, maxReadBytesOption, storeOption } from '../store/index.js';

export const IdentityConfigSchema = Type.Object(
  {
    kafka: kafkaSection('hearth-identity'),
    store: storeOption('originals are read and verdicts written there'),
    stateDir: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "the tier's own files (its ledger, index and lock: state, not store objects); default `<store>/.hearth-identity` for a directory store, required with a store service",
      }),
    ),
    maxReadBytes: maxReadBytesOption(),
    jobs: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'uploads identified at once (partitions consumed concurrently)' }),
    blocklist: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'file of blocklisted PDQ hashes (64 hex digits a line, `#` comments); read again when it changes. Absent: nothing is quarantined',
      }),
    ),
    pdq: Type.Object(
      {
        quarantineThreshold: Type.Integer({
          minimum: 0,
          maximum: 47,
          default: 31,
          description: "an upload within this many bits (of 256) of a blocklisted hash is quarantined (Meta's suggested match threshold)",
        }),
        nearThreshold: Type.Integer({
          minimum: 0,
          maximum: 47,
          default: 40,
          description:
            'an upload within this many bits of a stored image is recorded as its near-duplicate: looser than the quarantine threshold, since it only reports (measured here: resizes and recompressions within 24, 1 % crops median 22, different photographs 106+ apart)',
        }),
        minQuality: Type.Integer({
          minimum: 0,
          maximum: 100,
          default: 50,
          description: 'below this PDQ quality (flat or nearly empty images) a hash is not matched at all (Meta: not trustworthy)',
        }),
        maxNearMatches: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'near-duplicate events at most per upload, nearest first' }),
      },
      { additionalProperties: false, default: {} },
    ),
    http: httpSection(9469),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type IdentityConfig = Static<typeof IdentityConfigSchema>;

const validator = new Validator(IdentityConfigSchema, 'identity config');

/** `overrides` (flags) are merged deep onto the file (or the defaults). */
export function loadIdentityConfig(file?: string, overrides: Record<string, unknown> = {}): IdentityConfig {
  return loadConfig({
    what: 'identity config',
    validator,
    file,
    overrides,
    semantic: (c) =>
      !isDirStore(c.store) && !c.stateDir
        ? ["stateDir: required when the store is a store service (the ledger is the tier's own file, not a store object)"]
        : [],
  });
}
