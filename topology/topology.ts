/**
 * The topology file: origin, colos with their cache nodes, the keep-alive proxy and
 * the warmer's sockets. nginx configs and the warmer's config are both rendered from
 * it, so they cannot disagree about hosts, ports or colos.
 */
import { Type, type Static } from '@sinclair/typebox';
import ipaddr from 'ipaddr.js';
import { Validator, loadConfig } from '../common/index.js';
import { DEFAULT_STORE_LISTEN, s3CredentialsFile, s3Spec } from '../store/index.js';
import { COLO_NAME, VARIANT_FORMATS, type VariantFormat } from '@hearth/api-hook';
import { placementProblems } from './hosts.js';

const HOSTNAME = '^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$';
const ADDRESS = '^(\\d{1,3}(\\.\\d{1,3}){3}|\\[[0-9a-fA-F:]+\\]):\\d{1,5}$';
const SIZE = '^[0-9]+[kmg]?$';
const DURATION = '^[0-9]+(ms|s|m|h|d)$';

const Address = (description: string, def?: string) => Type.String({ pattern: ADDRESS, description, ...(def ? { default: def } : {}) });

const Colo = Type.Object(
  {
    name: Type.String({ pattern: COLO_NAME, description: 'colo name (metrics, logs, hints)' }),
    host: Type.String({ pattern: HOSTNAME, description: "the Host pushes carry; the proxy routes it to this colo's cache nodes" }),
    viewerHosts: Type.Array(Type.String({ pattern: HOSTNAME }), {
      default: [],
      description: 'viewer-facing host names served by this colo (the proxy routes them too)',
    }),
    cidrs: Type.Array(Type.String(), { default: [], description: 'viewer networks of this colo' }),
    nodes: Type.Array(Address('a cache node, ip:port'), {
      minItems: 1,
      maxItems: 64,
      description: 'cache nodes; several are spread by `hash $uri consistent`',
    }),
    cache: Type.Object(
      {
        maxSize: Type.String({ pattern: SIZE, default: '1g', description: 'proxy_cache_path max_size per node' }),
        inactive: Type.String({ pattern: DURATION, default: '7d', description: 'evict objects not requested for this long' }),
        valid: Type.String({ pattern: DURATION, default: '7d', description: 'how long a 200 stays fresh' }),
        notFoundValid: Type.String({ pattern: DURATION, default: '10s', description: 'how long a 404 is cached (bounded negative caching)' }),
        fetchTimeout: Type.String({
          pattern: DURATION,
          default: '10s',
          description:
            "a cache's fetch from the origin may wait this long for each read and write (proxy_read_timeout, proxy_send_timeout); the purger's second pass comes after the longest fetch (connect 2 s + this + 1 s)",
        }),
        lockTimeout: Type.String({
          pattern: DURATION,
          default: '100ms',
          description:
            'how long a request waits for a fetch of the same object already under way (a push) before fetching itself; nginx wakes a waiter only at this timeout (or every 500 ms), so it is what every viewer who came while its push was in flight waits',
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
        keepalive: Type.Integer({
          minimum: 1,
          maximum: 4096,
          default: 512,
          description: "idle keep-alive connections per colo upstream (at least the warmer's per-colo push concurrency)",
        }),
        tls: Type.Boolean({ default: false, description: 'TLS from the proxy to the caches (local CA made by `hearth proxy-config certs`)' }),
        certDir: Type.Optional(Type.String({ description: 'where ca.pem, cache.pem and cache.key are (required when tls is on)' })),
      },
      { additionalProperties: false, default: {} },
    ),
    colos: Type.Array(Colo, { minItems: 1, maxItems: 64 }),
    defaultColo: Type.Optional(Type.String({ pattern: COLO_NAME, description: "colo for viewers in no colo's CIDRs" })),
    warmer: Type.Object(
      {
        udp: Address('warmer UDP', '127.0.0.1:4950'),
        http: Address('warmer /metrics', '127.0.0.1:9464'),
        settings: Type.Record(Type.String(), Type.Unknown(), {
          default: {},
          description: 'more warmer config v1 members (keys, ttlMs, push, ...), validated by the warmer at start',
        }),
        peers: Type.Optional(
          Type.Array(Type.Object({ udp: Address("another warmer's UDP"), http: Address('its /metrics') }, { additionalProperties: false }), {
            minItems: 1,
            maxItems: 15,
            description:
              'more warmers with the same settings (`warmer-2`, …): api-hook spreads hints over every warmer by rendezvous hashing on the path, so a warmer lost loses only its share',
          }),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    kafka: Type.Optional(
      Type.Object(
        {
          listen: Address("the broker's client address", '127.0.0.1:9092'),
          controller: Address('the KRaft controller address', '127.0.0.1:9093'),
          peers: Type.Optional(
            Type.Array(
              Type.Object({ listen: Address("a peer's client address"), controller: Address("a peer's controller address") }, { additionalProperties: false }),
              {
                minItems: 2,
                maxItems: 8,
                description:
                  'the other nodes of a KRaft cluster, each a broker and a controller voter: with two, every topic is held on three nodes (`min.insync.replicas` 2), and one node lost loses nothing; absent: a single node',
              },
            ),
          ),
        },
        { additionalProperties: false, description: 'the Kafka broker started with the stack (a single node, or with `peers` a cluster)' },
      ),
    ),
    pipeline: Type.Optional(
      Type.Object(
        {
          resizeWorkers: Type.Array(Address("a resize worker's `/metrics`, `/healthz` and `/readyz`"), {
            minItems: 1,
            default: ['127.0.0.1:9470', '127.0.0.1:9471'],
            description: 'one address per resize worker (all in one consumer group)',
          }),
          variants: Type.Optional(
            Type.Array(Type.Union(VARIANT_FORMATS.map((f) => Type.Literal(f))), {
              uniqueItems: true,
              description:
                "the encodings the resize workers store at upload beside each stored size, each image's quality searched (their `variants.formats`); absent: their default, AVIF and WebP; `[]`: every AVIF and WebP left to the origin, made on its first request",
            }),
          ),
          perceptual: Address("the perceptual-compression worker's `/metrics`, `/healthz` and `/readyz`", '127.0.0.1:9466'),
          identity: Address("the identity tier's `/metrics`, `/healthz` and `/readyz` (duplicates, quarantine, near-duplicates)", '127.0.0.1:9469'),
          blocklist: Type.Optional(
            Type.String({
              minLength: 1,
              description: "the identity tier's blocklist of PDQ hashes (read again when it changes); absent: `<state>/identity/blocklist.txt`, created empty",
            }),
          ),
          takedown: Address(
            "the takedown worker's `/metrics`, `/healthz` and `/readyz` (`hearth takedown worker`: deletes other systems ask for on hearth.images.delete)",
            '127.0.0.1:9474',
          ),
          purgers: Type.Array(Address("a purger's `/metrics`, `/healthz` and `/readyz`"), {
            default: ['127.0.0.1:9472', '127.0.0.1:9473'],
            description:
              "one purger per colo, in the order of `colos` (`hearth purge`: it removes what is taken down from the colo's cache nodes, as a purger on each cache host would)",
          }),
          cacheLogs: Address("mtail: the cache nodes' access logs as metrics (`hearth_cache_*`)", '127.0.0.1:9461'),
          race: Address("the race join's `/metrics` (`hearth race`: pushes against first views)", '127.0.0.1:9462'),
          textfiles: Address(
            "node-exporter's textfile collector: the metrics files batch jobs write (lossless, scrub) into `<state>/textfile/`",
            '127.0.0.1:9463',
          ),
          dashboard: Address('the dashboard (`hearth dashboard`: live charts from Prometheus)', '127.0.0.1:9460'),
          prometheus: Type.Object(
            {
              listen: Address('Prometheus (its UI and HTTP API)', '127.0.0.1:9090'),
              retention: Type.String({ pattern: '^[0-9]+[smhd]$', default: '6h', description: 'how long Prometheus keeps samples' }),
            },
            { additionalProperties: false, default: {} },
          ),
        },
        {
          additionalProperties: false,
          description:
            'the ingest and compression pipeline behind the warm path and what watches it: resize workers, the perceptual worker, the cache-log exporter, the race join, Prometheus and the dashboard (needs kafka and origin.service)',
        },
      ),
    ),
    store: Type.Optional(
      Type.Object(
        {
          listen: Address('the store service (`hearth store serve`): the volumes every tier reads and writes, for tiers only', DEFAULT_STORE_LISTEN),
          metrics: Address("the store service's `/metrics`, `/healthz`, `/readyz`, `/stats` and `POST /compact`", '127.0.0.1:9480'),
          dir: Type.String({ minLength: 1, description: 'absolute directory of the volume and index files' }),
        },
        {
          additionalProperties: false,
          description:
            'the volumes store (docs/store.md): every tier reaches it at `http://<listen>`, the origin front passes every image path to the origin service, and `up` imports `origin.root` into it (resumably, verified). Absent: every tier reads and writes `origin.root` as a `dir` store, which the front serves from disk.',
        },
      ),
    ),
    ceph: Type.Optional(
      Type.Object(
        {
          dir: Type.String({ minLength: 1, description: "absolute state directory of the cluster (config, keyrings, the OSDs' block files, logs)" }),
          mon: Address('the monitor (msgr2)', '127.0.0.1:3300'),
          s3: Address('the RADOS Gateway: the S3 endpoint every tier reaches the store at', '127.0.0.1:7480'),
          metrics: Address("the manager's Prometheus module", '127.0.0.1:9283'),
          osds: Type.Integer({ minimum: 3, maximum: 16, default: 4, description: 'OSDs, each under a CRUSH host of its own (pools keep 3 copies)' }),
          bucket: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', default: 'hearth', description: "the bucket Hearth's objects go in" }),
          osdHosts: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description: 'the host of each OSD, by its name in `hosts` (one per OSD, each OSD its own CRUSH host); absent: every OSD beside the monitor',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'the store on a Ceph cluster the stack runs (`hearth ceph up`, docs/store.md): every tier reaches its bucket over S3, the origin front passes every image path to the origin service, and `up` imports `origin.root` into it. Not with `store`.',
        },
      ),
    ),
    hosts: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({
              pattern: '^[a-z][a-z0-9-]{0,14}$',
              description: "the host's name (`hearth deploy render --host NAME`, `hearth stack host kill NAME`)",
            }),
            address: Type.String({ description: 'its IP address: every daemon of the topology whose address has this IP runs on this host' }),
          },
          { additionalProperties: false },
        ),
        {
          minItems: 1,
          maxItems: 64,
          description: 'the machines the topology runs on, each daemon on the host of its address (docs/many-hosts.md); absent: one machine',
        },
      ),
    ),
    nginxUser: Type.Optional(
      Type.String({ pattern: '^[a-z_][a-z0-9_-]*$', description: 'user nginx workers run as when started as root (default: root for the local stack)' }),
    ),
  },
  { additionalProperties: false },
);

export type Topology = Static<typeof TopologySchema>;
export type ColoTopology = Topology['colos'][number];

const validator = new Validator(TopologySchema, 'topology');

/** The store every tier of the topology is given: the Ceph cluster's bucket, the store service's address, or `origin.root` as a `dir` store. */
export function storeSpec(t: Topology): string {
  if (t.ceph) return s3Spec(`http://${t.ceph.s3}`, t.ceph.bucket, s3CredentialsFile(t.ceph.dir));
  return t.store ? `http://${t.store.listen}` : t.origin.root;
}

/** The bootstrap addresses every Kafka client of the topology is given: each node's. */
export const kafkaBrokers = (t: Topology): string[] => (t.kafka ? [t.kafka.listen, ...(t.kafka.peers ?? []).map((p) => p.listen)] : []);

/** Whether every tier's store is an object store (the store service, Ceph) rather than `origin.root` on disk. */
export const storeIsService = (t: Topology): boolean => t.store !== undefined || t.ceph !== undefined;

/** Where caches fetch misses: the latency proxy when there is one, else the origin front. */
export const originUpstream = (t: Topology): string => t.origin.delay?.listen ?? t.origin.listen;

export function splitAddress(a: string): { host: string; port: number } {
  const i = a.lastIndexOf(':');
  return { host: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) };
}

/**
 * With `hosts`, every address the topology claims must be a host's (each daemon runs on
 * one), and a host's address is one other hosts can reach: never loopback.
 */
function hostProblems(t: Topology): string[] {
  if (!t.hosts) return [];
  const problems: string[] = [];
  const names = new Set<string>();
  const addresses = new Set<string>();
  t.hosts.forEach((h, i) => {
    if (names.has(h.name)) problems.push(`hosts[${i}].name: duplicate host name ${JSON.stringify(h.name)}`);
    names.add(h.name);
    if (!ipaddr.isValid(h.address)) problems.push(`hosts[${i}].address: not an IP address (got ${JSON.stringify(h.address)})`);
    else if (ipaddr.parse(h.address).range() === 'loopback' || ipaddr.parse(h.address).range() === 'unspecified')
      problems.push(`hosts[${i}].address: ${h.address} cannot be reached from another host`);
    if (addresses.has(h.address)) problems.push(`hosts[${i}].address: ${h.address} is already another host's`);
    addresses.add(h.address);
  });
  return [...problems, ...placementProblems(t)];
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
  warmers(t).forEach((w, i) => claim(i === 0 ? 'warmer.http' : `warmer.peers[${i - 1}].http`, w.http));
  const udps = warmers(t).map((w) => w.udp);
  udps.forEach((u, i) => {
    if (udps.indexOf(u) !== i) problems.push(`warmer.peers[${i - 1}].udp: ${u} is already another warmer's`);
  });
  claim('proxy.listen', t.proxy.listen);
  if (t.origin.delay) claim('origin.delay.listen', t.origin.delay.listen);
  if (t.origin.service) claim('origin.service', t.origin.service);
  if (t.origin.serviceMetrics) claim('origin.serviceMetrics', t.origin.serviceMetrics);
  if (t.origin.service && !t.origin.serviceMetrics)
    problems.push("origin.serviceMetrics: required with origin.service (the service's /metrics and /healthz listen there, apart from the images)");
  if (t.store) {
    claim('store.listen', t.store.listen);
    claim('store.metrics', t.store.metrics);
    if (!t.store.dir.startsWith('/')) problems.push(`store.dir: must be an absolute path (got ${JSON.stringify(t.store.dir)})`);
    if (!t.origin.service) problems.push('store: needs origin.service (the front cannot serve volumes from disk; it passes every image path to the service)');
  }
  if (t.ceph) {
    claim('ceph.mon', t.ceph.mon);
    claim('ceph.s3', t.ceph.s3);
    claim('ceph.metrics', t.ceph.metrics);
    if (!t.ceph.dir.startsWith('/')) problems.push(`ceph.dir: must be an absolute path (got ${JSON.stringify(t.ceph.dir)})`);
    if (new Set([t.ceph.mon, t.ceph.s3, t.ceph.metrics].map((a) => splitAddress(a).host)).size > 1)
      problems.push('ceph.mon, ceph.s3, ceph.metrics: one host (the stack runs the cluster on one machine)');
    if (t.ceph.osdHosts && t.ceph.osdHosts.length !== t.ceph.osds)
      problems.push(`ceph.osdHosts: one host per OSD (${t.ceph.osds}; got ${t.ceph.osdHosts.length})`);
    t.ceph.osdHosts?.forEach((h, i) => {
      if (!t.hosts?.some((x) => x.name === h)) problems.push(`ceph.osdHosts[${i}]: names no host of hosts (got ${JSON.stringify(h)})`);
    });
    if (t.store) problems.push('ceph: not with store (one store for every tier: the Ceph cluster or the volumes)');
    if (!t.origin.service)
      problems.push('ceph: needs origin.service (the front cannot serve objects from a cluster; it passes every image path to the service)');
  }
  if (t.kafka) {
    claim('kafka.listen', t.kafka.listen);
    claim('kafka.controller', t.kafka.controller);
    t.kafka.peers?.forEach((p, i) => {
      claim(`kafka.peers[${i}].listen`, p.listen);
      claim(`kafka.peers[${i}].controller`, p.controller);
    });
  }
  if (t.pipeline) {
    t.pipeline.resizeWorkers.forEach((a, i) => claim(`pipeline.resizeWorkers[${i}]`, a));
    claim('pipeline.perceptual', t.pipeline.perceptual);
    claim('pipeline.identity', t.pipeline.identity);
    claim('pipeline.takedown', t.pipeline.takedown);
    t.pipeline.purgers.forEach((a, i) => claim(`pipeline.purgers[${i}]`, a));
    if (t.pipeline.purgers.length !== t.colos.length)
      problems.push(`pipeline.purgers: one per colo, in the order of colos (${t.colos.length}; got ${t.pipeline.purgers.length})`);
    claim('pipeline.prometheus.listen', t.pipeline.prometheus.listen);
    claim('pipeline.cacheLogs', t.pipeline.cacheLogs);
    claim('pipeline.race', t.pipeline.race);
    claim('pipeline.textfiles', t.pipeline.textfiles);
    claim('pipeline.dashboard', t.pipeline.dashboard);
    if (!t.kafka) problems.push('pipeline: needs kafka (the workers consume and produce through it)');
    if (!t.origin.service) problems.push('pipeline: needs origin.service (sizes not yet made are made on the fly)');
  }
  problems.push(...hostProblems(t));
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
  /** 3: the broker is a KRaft cluster of three nodes (9092, 9094, 9096); 1 (default): a single node. */
  kafkaNodes?: number;
  /** The whole pipeline with this many resize workers; absent: the warm path only. */
  resizeWorkers?: number;
  /** The resize workers' `variants.formats` (`pipeline.variants`); absent: their default. */
  variants?: VariantFormat[];
  /** The volumes store (the store service) in this directory, `root` imported into it; absent: `root` as a `dir` store. */
  volumes?: string;
  /** The store on a Ceph cluster with this state directory, `root` imported into it. */
  ceph?: string;
  /** Each part on a test host of its own (`SPREAD_HOSTS`), for `stack up --hosts`. */
  hosts?: boolean;
}

/**
 * The hosts of `stack up --hosts` (the default topology spread over test hosts): one
 * /24 of the test network 198.18.0.0/15 (netns/), the machine itself at `.1`.
 */
export const SPREAD_HOSTS = {
  origin: '198.18.100.10',
  'cache-sin': '198.18.100.11',
  'cache-ams': '198.18.100.12',
  edge: '198.18.100.13',
  'edge-2': '198.18.100.17',
  'kafka-1': '198.18.100.14',
  'kafka-2': '198.18.100.15',
  'kafka-3': '198.18.100.16',
  workers: '198.18.100.20',
  'osd-0': '198.18.100.30',
  'osd-1': '198.18.100.31',
  'osd-2': '198.18.100.32',
  'osd-3': '198.18.100.33',
  watch: '198.18.100.21',
} as const;

/**
 * The local stack of the design brief: two colos of one cache node each; with
 * `resizeWorkers`, the whole pipeline. With `hosts`, each part on a host of its own: the
 * origin (and the store service or Ceph's monitor, manager and gateway), each Ceph OSD,
 * each colo's cache node (and its purger), the edge (the keep-alive proxy and a warmer),
 * a second warmer, each Kafka node, the workers, and what watches.
 */
export function defaultTopology(root: string, o: DefaultTopologyOptions = {}): Topology {
  const { originDelayMs, resizeWorkers } = o;
  const at = (host: keyof typeof SPREAD_HOSTS, port: number): string => `${o.hosts ? SPREAD_HOSTS[host] : '127.0.0.1'}:${port}`;
  const kafkaNodes = o.kafka || resizeWorkers ? (o.kafkaNodes === 3 ? 3 : 1) : 0;
  // On one machine the nodes need ports of their own; on hosts each keeps Kafka's.
  const kafkaAt = (i: number, port: number): string => (o.hosts ? at(`kafka-${i + 1}` as 'kafka-1', port) : at('origin', port + 2 * i));
  const usedHosts = (Object.keys(SPREAD_HOSTS) as (keyof typeof SPREAD_HOSTS)[]).filter(
    (h) =>
      (!h.startsWith('kafka-') || Number(h.slice(6)) <= kafkaNodes) &&
      (resizeWorkers || !['workers', 'watch'].includes(h)) &&
      (o.ceph || !h.startsWith('osd-')),
  );
  return parseTopology({
    ...(kafkaNodes
      ? {
          kafka: {
            listen: kafkaAt(0, 9092),
            controller: kafkaAt(0, 9093),
            ...(kafkaNodes === 3 ? { peers: [1, 2].map((i) => ({ listen: kafkaAt(i, 9092), controller: kafkaAt(i, 9093) })) } : {}),
          },
        }
      : {}),
    ...(resizeWorkers
      ? {
          pipeline: {
            resizeWorkers: Array.from({ length: resizeWorkers }, (_, i) => at('workers', 9470 + i)),
            ...(o.variants ? { variants: o.variants } : {}),
            perceptual: at('workers', 9466),
            identity: at('workers', 9469),
            takedown: at('workers', 9474),
            purgers: [at('cache-sin', 9472), at('cache-ams', 9473)],
            cacheLogs: at('watch', 9461),
            race: at('watch', 9462),
            textfiles: at('watch', 9463),
            dashboard: at('watch', 9460),
            prometheus: { listen: at('watch', 9090) },
          },
        }
      : {}),
    origin: {
      listen: at('origin', 8081),
      root,
      service: at('origin', 8083),
      serviceMetrics: at('origin', 9468),
      ...(originDelayMs ? { delay: { ms: originDelayMs, listen: at('origin', 8082) } } : {}),
    },
    proxy: { listen: at('edge', 8080), keepalive: 512 },
    colos: [
      { name: 'sin', host: 'cache-sin.hearth.local', viewerHosts: ['img-sin.hearth.local'], cidrs: ['10.1.0.0/16'], nodes: [at('cache-sin', 8101)] },
      {
        name: 'ams',
        host: 'cache-ams.hearth.local',
        viewerHosts: ['img-ams.hearth.local'],
        cidrs: ['10.2.0.0/16', '2001:db8::/32'],
        nodes: [at('cache-ams', 8102)],
      },
    ],
    defaultColo: 'ams',
    // Over hosts, two warmers behind api-hook's rendezvous hashing: a warmer host lost loses only its share.
    warmer: { udp: at('edge', 4950), http: at('edge', 9464), ...(o.hosts ? { peers: [{ udp: at('edge-2', 4950), http: at('edge-2', 9464) }] } : {}) },
    ...(o.volumes ? { store: { dir: o.volumes, listen: at('origin', 8084), metrics: at('origin', 9480) } } : {}),
    ...(o.ceph
      ? {
          ceph: {
            dir: o.ceph,
            ...(o.hosts
              ? { mon: at('origin', 3300), s3: at('origin', 7480), metrics: at('origin', 9283), osdHosts: ['osd-0', 'osd-1', 'osd-2', 'osd-3'] }
              : {}),
          },
        }
      : {}),
    ...(o.hosts ? { hosts: usedHosts.map((name) => ({ name, address: SPREAD_HOSTS[name] })) } : {}),
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

export interface WarmerAddresses {
  /** `warmer`, then `warmer-2`, … for `warmer.peers`. */
  name: string;
  udp: string;
  http: string;
}

/** Every warmer of the topology, in the order api-hook's senders list them. */
export const warmers = (t: Topology): WarmerAddresses[] => [
  { name: 'warmer', udp: t.warmer.udp, http: t.warmer.http },
  ...(t.warmer.peers ?? []).map((p, i) => ({ name: `warmer-${i + 2}`, ...p })),
];

/** A warmer's config v1 (the first's unless told), derived from the topology. */
export function warmerConfigFor(t: Topology, w: WarmerAddresses = warmers(t)[0]!): Record<string, unknown> {
  const udp = splitAddress(w.udp);
  const http = splitAddress(w.http);
  return {
    ...t.warmer.settings,
    udp,
    http,
    proxy: `http://${t.proxy.listen}`,
    colos: t.colos.map((c) => ({ name: c.name, host: c.host, cidrs: c.cidrs })),
    ...(t.defaultColo ? { defaultColo: t.defaultColo } : {}),
    // With the pipeline, the warmer follows the identity tier's quarantines.
    ...(t.kafka && t.pipeline ? { quarantine: { brokers: kafkaBrokers(t) } } : {}),
  };
}
