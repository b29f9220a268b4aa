/**
 * Warmer config, version 1. The schema is the single source of truth: it validates,
 * fills defaults and generates the README's config table.
 */
import { Type, type Static } from '@sinclair/typebox';
import ipaddr from 'ipaddr.js';
import { COLO_NAME, KEY_ID } from '@hearth/api-hook';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';

const Port = (def: number, description: string) => Type.Integer({ minimum: 0, maximum: 65535, default: def, description });
const HOSTNAME = '^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';

const Colo = Type.Object(
  {
    name: Type.String({ pattern: COLO_NAME, description: 'colo name, used in hints, metrics and logs' }),
    host: Type.String({ pattern: HOSTNAME, description: "the `Host` a push carries, which the proxy routes to this colo's cache" }),
    cidrs: Type.Array(Type.String(), { default: [], description: 'viewer networks served by this colo (IPv4 and IPv6; longest prefix wins)' }),
  },
  { additionalProperties: false },
);

export const WarmerConfigSchema = Type.Object(
  {
    udp: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'address hints are received on' }),
        port: Port(4950, 'UDP port for hints'),
        recvBufferBytes: Type.Integer({
          minimum: 65536,
          maximum: 1 << 30,
          default: 4194304,
          description:
            'socket receive buffer (the kernel caps it at net.core.rmem_max, then doubles it); more than ttlMs × rate only turns loss into staleness',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    http: httpSection(9464),
    ttlMs: Type.Integer({
      minimum: 1,
      maximum: 60000,
      default: 50,
      description: 'a hint older than this (by its `ts`) when it arrives is dropped as `stale` (late, replayed or from a skewed clock)',
    }),
    futureMs: Type.Integer({
      minimum: 0,
      maximum: 60000,
      default: 250,
      description: "a hint whose `ts` is further ahead of the warmer's clock than this is dropped as `future`",
    }),
    dedup: Type.Object(
      {
        ttlMs: Type.Integer({ minimum: 1, default: 600000, description: 'a (colo, path) pushed successfully is not pushed again for this long' }),
        max: Type.Integer({
          minimum: 1,
          maximum: 100000000,
          default: 1000000,
          description: 'most (colo, path) pairs remembered; the least recently seen go first',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    allowPaths: Type.String({
      default: '^/photos/[0-9]+/[0-9A-Za-z_]+\\.jpg$',
      description:
        'regular expression every hinted path must match (on top of built-in refusals of `..`, `%`, `//`, control characters and anything non-ASCII)',
    }),
    keys: Type.Record(Type.String({ pattern: KEY_ID }), Type.String({ minLength: 16 }), {
      default: {},
      description: 'HMAC keys by key id; when non-empty, unsigned or badly signed hints are dropped as `signature`. Several may be live (rotation)',
    }),
    proxy: Type.String({ default: 'http://127.0.0.1:8080', description: 'the keep-alive proxy every push goes through (`http://` or `https://`, no path)' }),
    colos: Type.Array(Colo, { minItems: 1, maxItems: 256, description: 'the regional caches' }),
    defaultColo: Type.Optional(
      Type.String({ pattern: COLO_NAME, description: "colo for viewers in no colo's CIDRs; absent: such hints are dropped as `no_colo`" }),
    ),
    push: Type.Object(
      {
        method: Type.Union([Type.Literal('HEAD'), Type.Literal('GET')], {
          default: 'HEAD',
          description: '`HEAD` (the cache fetches the full object; no bytes come back) or `GET` (body drained)',
        }),
        client: Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('undici')], {
          default: 'auto',
          description:
            '`native`: the push client of the native engine, built by setup (warmer/native/push-client.c: its own thread, plain HTTP only); `undici`: in JavaScript (also https); `auto`: native for an `http://` proxy where it is built, else undici',
        }),
        concurrency: Type.Integer({
          minimum: 1,
          maximum: 4096,
          default: 1024,
          description:
            'pushes in flight at once, over all colos; needs about (new paths/s) × (push latency): 1,000/s × 160 ms ≈ 160, and a 200-image page pushed at once needs 200 in its colo',
        }),
        deadlineMs: Type.Integer({
          minimum: 1,
          maximum: 600000,
          default: 1000,
          description:
            "a push still queued this long after its hint's `ts` is dropped as `stale`: by then the browser has asked for the image itself (HTML-to-image gaps are 100–400 ms)",
        }),
        perColoConcurrency: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 4096,
            description: 'pushes in flight at once to one colo (default: half of `concurrency`, at least 1), so a slow colo cannot take every slot',
          }),
        ),
        queueMax: Type.Integer({
          minimum: 1,
          maximum: 10000000,
          default: 10000,
          description: 'pushes waiting, over all colos; beyond it new ones are dropped as `overload`',
        }),
        timeoutMs: Type.Integer({ minimum: 1, maximum: 600000, default: 2000, description: 'connect, headers and body timeout of one push' }),
        breakerFailures: Type.Integer({
          minimum: 1,
          default: 5,
          description: 'consecutive failed pushes (error or 5xx) to a colo that open its circuit breaker',
        }),
        breakerCooldownMs: Type.Integer({
          minimum: 1,
          default: 1000,
          description: 'while open, pushes to the colo are dropped as `colo_down`; then one probe push decides',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    quarantine: Type.Object(
      {
        brokers: Type.Array(Type.String({ pattern: '^[^\\s:]+:\\d{1,5}$' }), {
          default: [],
          description:
            'Kafka brokers to follow `hearth.images.quarantined` and `hearth.images.takedown` from: hints for a quarantined or deleted image, and pushes still queued for one, are dropped as `quarantined` or `deleted`. Empty: not followed (the origin still answers 451 or 410 for them)',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    shutdownGraceMs: shutdownGraceMs(5000, 'in-flight pushes'),
    log: logSection({
      samplePerSecond: Type.Integer({ minimum: 0, default: 10, description: 'per-hint log events admitted per second and reason; the rest are counted' }),
    }),
  },
  { additionalProperties: false },
);

export type WarmerConfig = Static<typeof WarmerConfigSchema>;
export type ColoConfig = WarmerConfig['colos'][number];

/** Matches the local stack of the design brief: two colos behind the proxy on :8080. */
export const DEFAULT_WARMER_CONFIG = {
  udp: { host: '127.0.0.1', port: 4950 },
  http: { host: '127.0.0.1', port: 9464 },
  ttlMs: 50,
  dedup: { ttlMs: 600000, max: 1000000 },
  allowPaths: '^/photos/[0-9]+/[0-9A-Za-z_]+\\.jpg$',
  proxy: 'http://127.0.0.1:8080',
  colos: [
    { name: 'sin', host: 'cache-sin.hearth.local', cidrs: ['10.1.0.0/16'] },
    { name: 'ams', host: 'cache-ams.hearth.local', cidrs: ['10.2.0.0/16', '2001:db8::/32'] },
  ],
  defaultColo: 'ams',
  // No concurrency here: the schema's default is the one default, which the docs are generated from.
  push: { method: 'HEAD', queueMax: 10000, timeoutMs: 2000 },
} as const;

const validator = new Validator(WarmerConfigSchema, 'warmer config');

/** What the schema cannot say: cross-field rules and values that must parse. */
function semanticProblems(c: WarmerConfig): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  c.colos.forEach((colo, i) => {
    if (names.has(colo.name)) problems.push(`colos[${i}].name: duplicate colo name ${JSON.stringify(colo.name)}`);
    names.add(colo.name);
    colo.cidrs.forEach((cidr, j) => {
      try {
        ipaddr.parseCIDR(cidr);
      } catch {
        problems.push(`colos[${i}].cidrs[${j}]: not a CIDR like 10.1.0.0/16 or 2001:db8::/32 (got ${JSON.stringify(cidr)})`);
      }
    });
  });
  if (c.defaultColo !== undefined && !names.has(c.defaultColo)) {
    problems.push(`defaultColo: names no colo in "colos" (got ${JSON.stringify(c.defaultColo)})`);
  }
  try {
    new RegExp(c.allowPaths);
  } catch (err) {
    problems.push(`allowPaths: not a valid regular expression (${(err as Error).message})`);
  }
  if (!c.allowPaths.startsWith('^') || !c.allowPaths.endsWith('$')) {
    problems.push('allowPaths: must be anchored with ^ and $ so it matches whole paths');
  }
  try {
    const u = new URL(c.proxy);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`proxy: must be http:// or https:// (got ${JSON.stringify(c.proxy)})`);
    if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) {
      problems.push(`proxy: must be an origin without path, query or credentials (got ${JSON.stringify(c.proxy)})`);
    }
  } catch {
    problems.push(`proxy: not a URL (got ${JSON.stringify(c.proxy)})`);
  }
  for (const [field, host] of [
    ['udp.host', c.udp.host],
    ['http.host', c.http.host],
  ] as const) {
    if (!ipaddr.isValid(host)) problems.push(`${field}: must be an IP address (got ${JSON.stringify(host)})`);
  }
  return problems;
}

/** Validates a parsed config object; throws one ValidationError naming every bad field. */
export function parseWarmerConfig(raw: unknown): WarmerConfig {
  return loadConfig({ what: 'warmer config', validator, defaults: raw, semantic: semanticProblems });
}

/** The embedded local-stack config when no file is given; `overrides` (flags) are merged deep. */
export function loadWarmerConfig(file?: string, overrides: Record<string, unknown> = {}): WarmerConfig {
  return loadConfig({ what: 'warmer config', validator, defaults: DEFAULT_WARMER_CONFIG, file, overrides, semantic: semanticProblems });
}

export function perColoConcurrency(c: WarmerConfig): number {
  return c.push.perColoConcurrency ?? Math.max(1, Math.floor(c.push.concurrency / 2));
}
