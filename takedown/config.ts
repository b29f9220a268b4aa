/** The purger's config: which colos' cache nodes (on this host) it purges, and when it purges again. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';
import { storeOption } from '../store/index.js';
import { kafkaSection } from '../kafka/index.js';

/**
 * How long after a takedown the second purge waits by default: the longest a cache's
 * fetch from the origin may take (connect 2 s + the topology's default `fetchTimeout`
 * 10 s, proxy-config) and a second of margin. A fetch that began before the takedown and
 * ends after the first purge stores the photo again; the second pass removes that copy,
 * and nothing began after the takedown can bring one (the origin answers 410).
 */
export const DEFAULT_REPURGE_AFTER_MS = 13_000;

export const PurgerConfigSchema = Type.Object(
  {
    colos: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'colo name (metrics, the audit)' }),
          nodes: Type.Array(
            Type.Object(
              {
                name: Type.String({ minLength: 1, description: 'the cache node (logs)' }),
                cacheDir: Type.String({ pattern: '^/', description: "the node's proxy_cache_path directory, on this host" }),
                levels: Type.String({ pattern: '^[12](:[12]){0,2}$', default: '1:2', description: "the node's proxy_cache_path levels" }),
              },
              { additionalProperties: false },
            ),
            {
              minItems: 1,
              maxItems: 64,
              description: "the colo's cache nodes on this host: every path of a photo taken down is removed from each one's cache directory",
            },
          ),
        },
        { additionalProperties: false },
      ),
      {
        minItems: 1,
        maxItems: 64,
        description:
          'the colos whose cache nodes are on this host; each follows hearth.images.takedown in consumer groups of its own, so a colo that was away catches up when it is back and holds up no other',
      },
    ),
    repurgeAfterMs: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: DEFAULT_REPURGE_AFTER_MS,
      description:
        "the second pass, this long after the takedown: at least the longest a cache's fetch from the origin may take (a fetch in flight at the takedown can store the photo again after the first pass); 0: no second pass",
    }),
    kafka: kafkaSection('hearth-purge'),
    http: httpSection(9472),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type PurgerConfig = Static<typeof PurgerConfigSchema>;

const validator = new Validator(PurgerConfigSchema, 'purger config');

/** `overrides` (flags) are merged deep onto the file (or the defaults). */
export function loadPurgerConfig(file?: string, overrides: Record<string, unknown> = {}): PurgerConfig {
  return loadConfig({
    what: 'purger config',
    validator,
    file,
    overrides,
    semantic: (c) => {
      const names = c.colos.map((x) => x.name);
      return [...names.filter((n, i) => names.indexOf(n) !== i).map((n) => `colos: colo ${JSON.stringify(n)} is named twice`)];
    },
  });
}

/** The takedown worker's config (takedown/requests.ts): delete requests from other systems. */
export const TakedownWorkerConfigSchema = Type.Object(
  {
    kafka: kafkaSection('hearth-takedown'),
    store: storeOption('every object of a photo asked to be deleted is removed from it'),
    http: httpSection(9474),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type TakedownWorkerConfig = Static<typeof TakedownWorkerConfigSchema>;
const workerValidator = new Validator(TakedownWorkerConfigSchema, 'takedown worker config');

export function loadTakedownWorkerConfig(file?: string, overrides: Record<string, unknown> = {}): TakedownWorkerConfig {
  return loadConfig({ what: 'takedown worker config', validator: workerValidator, file, overrides });
}
