/** The race join's config: which cache logs to follow, and how much to remember. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';

export const RaceConfigSchema = Type.Object(
  {
    logs: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      maxItems: 1024,
      description: "the cache nodes' JSON access logs (every node of every colo)",
    }),
    fromStart: Type.Boolean({ default: false, description: 'read each log from its beginning (default: only lines written after the start)' }),
    pollMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 250, description: 'how often each log is checked for new lines' }),
    maxTrackedPaths: Type.Integer({
      minimum: 100,
      maximum: 10_000_000,
      default: 100_000,
      description: '(colo, path) pairs remembered at once; beyond, the least recently touched is evicted and counted (about 200 bytes each)',
    }),
    viewWindowS: Type.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 300,
      description: 'a push not viewed within this long is counted unviewed and forgotten',
    }),
    viewerWaitS: Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: 30,
      description: "how long a first view waits for a push logged after it (another node's log, read later); then it was no race",
    }),
    http: httpSection(9462),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type RaceConfig = Static<typeof RaceConfigSchema>;

const validator = new Validator(RaceConfigSchema, 'race config');

export function loadRaceConfig(file?: string, overrides: Record<string, unknown> = {}): RaceConfig {
  return loadConfig({
    what: 'race config',
    validator,
    file,
    overrides,
    semantic: (c) => (c.viewerWaitS > c.viewWindowS ? [`viewerWaitS: longer than viewWindowS (${c.viewerWaitS} > ${c.viewWindowS})`] : []),
  });
}
