/**
 * The topology file: origin, colos with their cache nodes, the keep-alive proxy and
 * the warmer's sockets. nginx configs and the warmer's config are both rendered from
 * it, so they cannot disagree about hosts, ports or colos.
 */
import { Type, type Static } from '@sinclair/typebox';
import ipaddr from 'ipaddr.js';
import { Validator, loadConfig } from '../common/index.js';
import { DEFAULT_STORE_LISTEN } from '../store/index.js';
import { COLO_NAME } from '@hearth/api-hook';

const HOSTNAME = '^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$';
const ADDRESS = '^(\\d{1,3}(\\.\\d{1,3}){3}|\\[[0-9a-fA-F:]+\\]):\\d{1,5}$';
const SIZE = '^[0-9]+[kmg]?$';
const DURATION = '^[0-9]+(ms|s|m|h|d)$';

const Address = (description: string, def?: string) => Type.String({ pattern: ADDRESS, description, ...(def ? { default: def } : {}) });

const Colo = Type.Object(
  {
    name: Type.String({ pattern: COLO_NAME, description: 'colo name (metrics, logs, hints)' }),
    host: Type.String({ pattern: HOSTNAME, description: 'the Host pushes carry; the proxy routes it to this colo\'s cache nodes' }),
    viewerHosts: Type.Array(Type.String({ pattern: HOSTNAME }), { default: [], description: 'viewer-facing host names served by this colo (the proxy routes them too)' }),
    cidrs: Type.Array(Type.String(), { default: [], description: 'viewer networks of this colo' }),
    nodes: Type.Array(Address('a cache node, ip:port'), { minItems: 1, maxItems: 64, description: 'cache nodes; several are spread by `hash $uri consistent`' }),
    cache: Type.Object(
      {
        maxSize: Type.String({ pattern: SIZE, default: '1g', description: 'proxy_cache_path max_size per node' }),
        inactive: Type.String({ pattern: DURATION, default: '7d', description: 'evict objects not requested for this long' }),
        valid: Type.String({ pattern: DURATION, default: '7d', description: 'how long a 200 stays fresh' }),
        notFoundValid: Type.String({ pattern: DURATION, default: '10s', description: 'how long a 404 is cached (bounded negative caching)' }),
        fetchTimeout: Type.String({ pattern: DURATION, default: '10s', description: "a cache's fetch from the origin may wait this long for each read and write (proxy_read_timeout, proxy_send_timeout); the purger's second pass comes after the longest fetch (connect 2 s + this + 1 s)" }),
        lockTimeout: Type.String({
          pattern: DURATION,
          default: '100ms',
          description: 'how long a request waits for a fetch of the same object already under way (a push) before fetching itself; nginx wakes a waiter only at this timeout (or every 500 ms), so it is what every viewer who came while its push was in flight waits',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export const TopologySchema = Type.Object(
  {
    origin: Type.Object(
      {
        listen: Address('the origin front (nginx, static files from the store)', '127.0.0.1:8081'),
        root: Type.String({ minLength: 1, description: 'the store: absolute directory served as the image namespace' }),
        service: Type.Optional(Address('the origin service (`hearth origin`) the front passes misses to: ladder sizes made on the fly')),
        serviceMetrics: Type.Optional(Address("the origin service's `/metrics` and `/healthz` (required with `service`; never behind a cache)")),
        delay: Type.Optional(
          Type.Object(
            {
              ms: Type.Integer({ minimum: 0, maximum: 60000, description: 'added to every origin fetch, standing for distance' }),
              listen: Address('the latency proxy the caches fetch through'),
            },
            { additionalProperties: false, description: 'a latency proxy between the caches and the origin front (local stack and simulations)' },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    proxy: Type.Object(
      {
        listen: Address('the keep-alive proxy the warmer pushes through', '127.0.0.1:8080'),
        keepalive: Type.Integer({ minimum: 1, maximum: 4096, default: 512, description: 'idle keep-alive connections per colo upstream (at least the warmer\'s per-colo push concurrency)' }),
        tls: Type.Boolean({ default: false, description: 'TLS from the proxy to the caches (local CA made by `hearth proxy-config certs`)' }),
        certDir: Type.Optional(Type.String({ description: 'where ca.pem, cache.pem and cache.key are (required when tls is on)' })),
      },
      { additionalProperties: false, default: {} },
    ),
    colos: Type.Array(Colo, { minItems: 1, maxItems: 64 }),
    defaultColo: Type.Optional(Type.String({ pattern: COLO_NAME, description: 'colo for viewers in no colo\'s CIDRs' })),
    warmer: Type.Object(
      {
        udp: Address('warmer UDP', '127.0.0.1:4950'),
        http: Address('warmer /metrics', '127.0.0.1:9464'),
        settings: Type.Record(Type.String(), Type.Unknown(), {
          default: {},
          description: 'more warmer config v1 members (keys, ttlMs, push, ...), validated by the warmer at start',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    kafka: Type.Optional(
      Type.Object(
        {
          listen: Address('the broker\'s client address', '127.0.0.1:9092'),
          controller: Address('the KRaft controller address', '127.0.0.1:9093'),
        },
        { additionalProperties: false, description: 'a single-node Kafka broker started with the stack' },
      ),
    ),
    pipeline: Type.Optional(
      Type.Object(
        {
          resizeWorkers: Type.Array(Address('a resize worker\'s `/metrics`, `/healthz` and `/readyz`'), {
            minItems: 1,
            default: ['127.0.0.1:9470', '127.0.0.1:9471'],
            description: 'one address per resize worker (all in one consumer group)',
          }),
          perceptual: Address('the perceptual-compression worker\'s `/metrics`, `/healthz` and `/readyz`', '127.0.0.1:9466'),
          identity: Address("the identity tier's `/metrics`, `/healthz` and `/readyz` (duplicates, quarantine, near-duplicates)", '127.0.0.1:9469'),
          blocklist: Type.Optional(Type.String({ minLength: 1, description: "the identity tier's blocklist of PDQ hashes (read again when it changes); absent: `<state>/identity/blocklist.txt`, created empty" })),
          takedown: Address("the takedown worker's `/metrics`, `/healthz` and `/readyz` (`hearth takedown worker`: deletes other systems ask for on hearth.images.delete)", '127.0.0.1:9474'),
          purgers: Type.Array(Address("a purger's `/metrics`, `/healthz` and `/readyz`"), {
            default: ['127.0.0.1:9472', '127.0.0.1:9473'],
            description: "one purger per colo, in the order of `colos` (`hearth purge`: it removes what is taken down from the colo's cache nodes, as a purger on each cache host would)",
          }),
          cacheLogs: Address("mtail: the cache nodes' access logs as metrics (`hearth_cache_*`)", '127.0.0.1:9461'),
          race: Address("the race join's `/metrics` (`hearth race`: pushes against first views)", '127.0.0.1:9462'),
          textfiles: Address("node-exporter's textfile collector: the metrics files batch jobs write (lossless, scrub) into `<state>/textfile/`", '127.0.0.1:9463'),
          dashboard: Address('the dashboard (`hearth dashboard`: live charts from Prometheus)', '127.0.0.1:9460'),
          prometheus: Type.Object(
            {
              listen: Address('Prometheus (its UI and HTTP API)', '127.0.0.1:9090'),
              retention: Type.String({ pattern: '^[0-9]+[smhd]$', default: '6h', description: 'how long Prometheus keeps samples' }),
            },
            { additionalProperties: false, default: {} },
          ),
        },
        { additionalProperties: false, description: 'the ingest and compression pipeline behind the warm path and what watches it: resize workers, the perceptual worker, the cache-log exporter, the race join, Prometheus and the dashboard (needs kafka and origin.service)' },
      ),
    ),
    store: Type.Optional(
      Type.Object(
        {
          listen: Address('the store service (`hearth store serve`): the volumes every tier reads and writes, for tiers only', DEFAULT_STORE_LISTEN),
          metrics: Address("the store service's `/metrics`, `/healthz`, `/readyz`, `/stats` and `POST /compact`", '127.0.0.1:9480'),
          dir: Type.String({ minLength: 1, description: 'absolute directory of the volume and index files' }),
        },
        { additionalProperties: false, description: 'the volumes store (docs/store.md): every tier reaches it at `http://<listen>`, the origin front passes every image path to the origin service, and `up` imports `origin.root` into it (resumably, verified). Absent: every tier reads and writes `origin.root` as a `dir` store, which the front serves from disk.' },
      ),
    ),
    nginxUser: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_-]*$', description: 'user nginx workers run as when started as root (default: root for the local stack)' })),
  },
  { additionalProperties: false },
);

export type Topology = Static<typeof TopologySchema>;
export type ColoTopology = Topology['colos'][number];

const validator = new Validator(TopologySchema, 'topology');

/** The store every tier of the topology is given: the store service's address, or `origin.root` as a `dir` store. */
export const storeSpec = (t: Topology): string => (t.store ? `http://${t.store.listen}` : t.origin.root);

/** Where caches fetch misses: the latency proxy when there is one, else the origin front. */
export const originUpstream = (t: Topology): string => t.origin.delay?.listen ?? t.origin.listen;

export function splitAddress(a: string): { host: string; port: number } {
  const i = a.lastIndexOf(':');
  return { host: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) };
}

function semanticProblems(t: Topology): string[] {
  const problems: string[] = [];
  const listens = new Map<string, string>();
  const claim = (field: string, addr: string): void => {
    const { host, port } = splitAddress(addr);
    if (!ipaddr.isValid(host)) problems.push(`${field}: not an IP address (got ${JSON.stringify(addr)})`);
    if (port < 1 || port > 65535) problems.push(`${field}: port out of range (got ${JSON.stringify(addr)})`);
    const other = listens.get(addr);
    if (other) problems.push(`${field}: ${addr} is already used by ${other}`);
    listens.set(addr, field);
  };
  claim('origin.listen', t.origin.listen);
  claim('proxy.listen', t.proxy.listen);
  if (t.origin.delay) claim('origin.delay.listen', t.origin.delay.listen);
  if (t.origin.service) claim('origin.service', t.origin.service);
  if (t.origin.serviceMetrics) claim('origin.serviceMetrics', t.origin.serviceMetrics);
  if (t.origin.service && !t.origin.serviceMetrics) problems.push("origin.serviceMetrics: required with origin.service (the service's /metrics and /healthz listen there, apart from the images)");
  if (t.store) {
    claim('store.listen', t.store.listen);
    claim('store.metrics', t.store.metrics);
    if (!t.store.dir.startsWith('/')) problems.push(`store.dir: must be an absolute path (got ${JSON.stringify(t.store.dir)})`);
    if (!t.origin.service) problems.push('store: needs origin.service (the front cannot serve volumes from disk; it passes every image path to the service)');
  }
  if (t.kafka) {
    claim('kafka.listen', t.kafka.listen);
    claim('kafka.controller', t.kafka.controller);
  }
  if (t.pipeline) {
    t.pipeline.resizeWorkers.forEach((a, i) => claim(`pipeline.resizeWorkers[${i}]`, a));
    claim('pipeline.perceptual', t.pipeline.perceptual);
    claim('pipeline.identity', t.pipeline.identity);
    claim('pipeline.takedown', t.pipeline.takedown);
    t.pipeline.purgers.forEach((a, i) => claim(`pipeline.purgers[${i}]`, a));
    if (t.pipeline.purgers.length !== t.colos.length) problems.push(`pipeline.purgers: one per colo, in the order of colos (${t.colos.length}; got ${t.pipeline.purgers.length})`);
    claim('pipeline.prometheus.listen', t.pipeline.prometheus.listen);
    claim('pipeline.cacheLogs', t.pipeline.cacheLogs);
    claim('pipeline.race', t.pipeline.race);
    claim('pipeline.textfiles', t.pipeline.textfiles);
    claim('pipeline.dashboard', t.pipeline.dashboard);
    if (!t.kafka) problems.push('pipeline: needs kafka (the workers consume and produce through it)');
    if (!t.origin.service) problems.push('pipeline: needs origin.service (sizes not yet made are made on the fly)');
  }
  if (!t.origin.root.startsWith('/')) problems.push(`origin.root: must be an absolute path (got ${JSON.stringify(t.origin.root)})`);
  const names = new Set<string>();
  const hosts = new Set<string>();
  t.colos.forEach((c, i) => {
    if (names.has(c.name)) problems.push(`colos[${i}].name: duplicate colo name ${JSON.stringify(c.name)}`);
    names.add(c.name);
    for (const [j, h] of [c.host, ...c.viewerHosts].entries()) {
      if (hosts.has(h)) problems.push(`colos[${i}].${j === 0 ? 'host' : `viewerHosts[${j - 1}]`}: host ${JSON.stringify(h)} names two colos`);
      hosts.add(h);
    }
    c.nodes.forEach((n, j) => claim(`colos[${i}].nodes[${j}]`, n));
    c.cidrs.forEach((cidr, j) => {
      try {
        ipaddr.parseCIDR(cidr);
      } catch {
        problems.push(`colos[${i}].cidrs[${j}]: not a CIDR (got ${JSON.stringify(cidr)})`);
      }
    });
  });
  if (t.defaultColo !== undefined && !names.has(t.defaultColo)) problems.push(`defaultColo: names no colo (got ${JSON.stringify(t.defaultColo)})`);
  if (t.proxy.tls && !t.proxy.certDir) problems.push('proxy.certDir: required when proxy.tls is true');
  return problems;
}

/** A topology object validated: one error naming every bad field, schema and cross-field alike. */
export function parseTopology(raw: unknown, what = 'topology'): Topology {
  return loadConfig({ what, validator, defaults: raw, semantic: semanticProblems });
}

export function loadTopology(file: string): Topology {
  return loadConfig({ what: 'topology', validator, file, semantic: semanticProblems });
}

export interface DefaultTopologyOptions {
  originDelayMs?: number;
  /** A Kafka broker (implied by `resizeWorkers`). */
  kafka?: boolean;
  /** The whole pipeline with this many resize workers; absent: the warm path only. */
  resizeWorkers?: number;
  /** The volumes store (the store service) in this directory, `root` imported into it; absent: `root` as a `dir` store. */
  volumes?: string;
}

/** The local stack of the design brief: two colos of one cache node each; with `resizeWorkers`, the whole pipeline. */
export function defaultTopology(root: string, o: DefaultTopologyOptions = {}): Topology {
  const { originDelayMs, resizeWorkers } = o;
  return parseTopology({
    ...(o.kafka || resizeWorkers ? { kafka: {} } : {}),
    ...(resizeWorkers ? { pipeline: { resizeWorkers: Array.from({ length: resizeWorkers }, (_, i) => `127.0.0.1:${9470 + i}`) } } : {}),
    origin: { listen: '127.0.0.1:8081', root, service: '127.0.0.1:8083', serviceMetrics: '127.0.0.1:9468', ...(originDelayMs ? { delay: { ms: originDelayMs, listen: '127.0.0.1:8082' } } : {}) },
    proxy: { listen: '127.0.0.1:8080', keepalive: 512 },
    colos: [
      { name: 'sin', host: 'cache-sin.hearth.local', viewerHosts: ['img-sin.hearth.local'], cidrs: ['10.1.0.0/16'], nodes: ['127.0.0.1:8101'] },
      { name: 'ams', host: 'cache-ams.hearth.local', viewerHosts: ['img-ams.hearth.local'], cidrs: ['10.2.0.0/16', '2001:db8::/32'], nodes: ['127.0.0.1:8102'] },
    ],
    defaultColo: 'ams',
    warmer: { udp: '127.0.0.1:4950', http: '127.0.0.1:9464' },
    ...(o.volumes ? { store: { dir: o.volumes } } : {}),
  });
}

/** A topology duration (`100ms`, `10s`, `7d`) in ms. */
export function durationMs(d: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new RangeError(`not a duration: ${JSON.stringify(d)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/**
 * A colo's purger, from the topology: its cache nodes' directories (each node's nginx
 * prefix is `<nginxDir>/<node>`, proxy-config), and the second pass after the longest
 * fetch its caches may make from the origin (connect 2 s + `fetchTimeout`, a second of margin).
 */
export function purgerConfigFor(colo: ColoTopology, nodeDirs: readonly string[], levels: string): Record<string, unknown> {
  return {
    colos: [{ name: colo.name, nodes: nodeDirs.map((dir) => ({ name: dir.split('/').at(-1), cacheDir: `${dir}/cache`, levels })) }],
    repurgeAfterMs: 2000 + durationMs(colo.cache.fetchTimeout) + 1000,
  };
}

/** The warmer's config v1, derived from the topology. */
export function warmerConfigFor(t: Topology): Record<string, unknown> {
  const udp = splitAddress(t.warmer.udp);
  const http = splitAddress(t.warmer.http);
  return {
    ...t.warmer.settings,
    udp,
    http,
    proxy: `http://${t.proxy.listen}`,
    colos: t.colos.map((c) => ({ name: c.name, host: c.host, cidrs: c.cidrs })),
    ...(t.defaultColo ? { defaultColo: t.defaultColo } : {}),
    // With the pipeline, the warmer follows the identity tier's quarantines.
    ...(t.kafka && t.pipeline ? { quarantine: { brokers: [t.kafka.listen] } } : {}),
  };
}
