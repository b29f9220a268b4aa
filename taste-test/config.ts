/** The taste-test server's config. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';
import { DEFAULT_LADDER } from '../image/index.js';
import { MIN_VIEW_MS } from './stats.js';

export const TasteTestConfigSchema = Type.Object(
  {
    http: httpSection(9467, 'the page, its API, `/metrics`, `/healthz` and `/readyz`'),
    photos: Type.String({ minLength: 1, default: '.cache/photos/src', description: 'photographs the pairs are made from' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'use only the first n photographs' })),
    size: Type.Union(
      DEFAULT_LADDER.map((s) => Type.Literal(s.name)),
      { default: 'z', description: 'ladder size under test' },
    ),
    target: Type.Optional(Type.Number({ minimum: 0.5, maximum: 1, description: "SSIM target of the compressed side (default: the compress config's)" })),
    resizeConfig: Type.Optional(Type.String({ description: 'resize config whose JPEG settings make the original side' })),
    compressConfig: Type.Optional(Type.String({ description: 'compress config whose perceptual settings make the compressed side' })),
    trials: Type.Integer({ minimum: 1, maximum: 10_000, default: 20, description: 'pairs each tester is shown' }),
    answers: Type.String({ minLength: 1, default: '.state/taste-test/answers.jsonl', description: 'answers are appended here (JSON lines)' }),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1, description: 'seed the draw of pairs, kinds and sides (for replays)' })),
    minViewMs: Type.Integer({ minimum: 0, maximum: 600_000, default: MIN_VIEW_MS, description: 'answers faster than this are recorded but in no verdict' }),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type TasteTestConfig = Static<typeof TasteTestConfigSchema>;

const validator = new Validator(TasteTestConfigSchema, 'taste-test config');

export function loadTasteTestConfig(file?: string, overrides: Record<string, unknown> = {}): TasteTestConfig {
  return loadConfig({ what: 'taste-test config', validator, file, overrides });
}
