/** The origin service's config. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';
import { formatsSection, jpegSection } from '../image/index.js';
import { storeOption } from '../store/index.js';

export const OriginConfigSchema = Type.Object(
  {
    listen: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'address of the image paths (behind the origin front)' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8083, description: 'port of the image paths' }),
      },
      { additionalProperties: false, default: {} },
    ),
    store: storeOption('every size and original is read from it'),
    storeDerived: Type.Boolean({
      default: true,
      description: 'write sizes made on the fly into the store (every encoding: JPEG, AVIF, WebP), so each is made once and the next request is a plain file',
    }),
    maxConcurrent: Type.Integer({ minimum: 1, maximum: 256, default: 2, description: 'on-the-fly resizes and reconstructions at once' }),
    maxQueue: Type.Integer({ minimum: 0, maximum: 100_000, default: 16, description: 'on-the-fly work waiting; beyond it, 503 with Retry-After' }),
    jpeg: jpegSection('JPEG quality of sizes made on the fly'),
    formats: formatsSection(),
    http: httpSection(9468),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type OriginConfig = Static<typeof OriginConfigSchema>;

const validator = new Validator(OriginConfigSchema, 'origin config');

/** `overrides` (flags) are merged deep onto the file (or the defaults). */
export function loadOriginConfig(file?: string, overrides: Record<string, unknown> = {}): OriginConfig {
  return loadConfig({
    what: 'origin config',
    validator,
    file,
    overrides,
    semantic: (c) =>
      c.listen.port !== 0 && c.listen.host === c.http.host && c.listen.port === c.http.port
        ? ['http.port: the same address as listen (metrics must not share the image listener)']
        : [],
  });
}
