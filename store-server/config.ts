/** The store service's config. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';
import { DEFAULT_MAX_READ_BYTES, DEFAULT_MIN_FREE_BYTES, DEFAULT_VOLUME_BYTES, MAX_VOLUME_BYTES } from '../store/index.js';

export const StoreServerConfigSchema = Type.Object(
  {
    listen: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'address of the store paths (tiers only: never behind a cache or the origin front)' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8084, description: 'port of the store paths' }),
      },
      { additionalProperties: false, default: {} },
    ),
    volumes: Type.Object(
      {
        dir: Type.String({ minLength: 1, default: '.cache/volumes', description: 'directory of the volume and index files (one service per directory)' }),
        volumeBytes: Type.Integer({
          minimum: 64 * 1024,
          maximum: MAX_VOLUME_BYTES,
          default: DEFAULT_VOLUME_BYTES,
          description: 'a volume is sealed once the next needle would take it past this (4 GiB: see docs/store.md)',
        }),
        minFreeBytes: Type.Integer({
          minimum: 0,
          default: DEFAULT_MIN_FREE_BYTES,
          description: 'puts are refused (507) while the disk has less free; reads go on',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    maxObjectBytes: Type.Integer({
      minimum: 1024 * 1024,
      maximum: 2 ** 31 - 1,
      default: DEFAULT_MAX_READ_BYTES,
      description: 'the largest object a put may carry (413 beyond)',
    }),
    http: httpSection(9480, '`/metrics`, `/healthz`, `/readyz`, `/stats` and `POST /compact`'),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type StoreServerConfig = Static<typeof StoreServerConfigSchema>;

const validator = new Validator(StoreServerConfigSchema, 'store config');

export function loadStoreServerConfig(file?: string, overrides: Record<string, unknown> = {}): StoreServerConfig {
  return loadConfig({
    what: 'store config',
    validator,
    file,
    overrides,
    semantic: (c) =>
      c.listen.port !== 0 && c.listen.host === c.http.host && c.listen.port === c.http.port
        ? ['http.port: the same address as listen (status routes must not share the store paths)']
        : [],
  });
}
