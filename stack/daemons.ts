/**
 * Every process of a topology, as a command line and the files it reads: one definition
 * that the local stack starts (`stack up`, on one machine or on test hosts) and that
 * `hearth deploy render` writes systemd units for, so a host deployed from the topology
 * runs exactly what the tested stack runs. nginx and Kafka are described by their own
 * modules (proxy-config, kafka); the Ceph cluster is Ceph's to deploy.
 */
import { join } from 'node:path';
import { TOPICS } from '../kafka/index.js';
import { mtailArgs, renderPrometheusConfig, scrapeJobsFor } from '../monitoring/index.js';
import { CACHE_LEVELS, cacheName, renderAll } from '../proxy-config/index.js';
import { kafkaBrokers, purgerConfigFor, splitAddress, storeIsService, storeSpec, warmerConfigFor, warmers, type Topology } from '../topology/index.js';

/** Partitions of the pipeline's topics: more than any local stack's workers, so each can own some. */
export const PIPELINE_PARTITIONS = 8;

/** The pipeline's topics and their partitions: created by `stack up`, and by `hearth kafka topics` for a deployment. */
export const PIPELINE_TOPICS: Readonly<Record<string, number>> = {
  [TOPICS.uploaded]: PIPELINE_PARTITIONS,
  [TOPICS.accepted]: PIPELINE_PARTITIONS,
  [TOPICS.matched]: PIPELINE_PARTITIONS,
  [TOPICS.quarantined]: 1,
  [TOPICS.resized]: PIPELINE_PARTITIONS,
  [TOPICS.compressed]: PIPELINE_PARTITIONS,
  [TOPICS.dead]: 1,
  [TOPICS.takedown]: PIPELINE_PARTITIONS,
  [TOPICS.deleteRequests]: PIPELINE_PARTITIONS,
  [TOPICS.purged]: PIPELINE_PARTITIONS,
};

/** When in `up` a daemon starts: after what it needs, before what needs it. */
export type Stage = 'store' | 'origin' | 'warm' | 'pipeline';

export interface DaemonSpec {
  /** `store`, `origin`, `origin-delay`, `warmer` (and `warmer-2`, …), `identity`, `resize-<n>`, `takedown`, `purge-<colo>`, `perceptual`, `cache-logs`, `race`, `textfiles`, `prometheus`, `dashboard` (topology/hosts.ts places each). */
  name: string;
  stage: Stage;
  /** Absent: Hearth's own CLI under node. */
  exe?: string;
  args: string[];
  /** Written before it starts, owner-readable only (the warmer's holds HMAC keys). `keep`: only when missing (the blocklist, which operators edit). */
  files: { path: string; content: string; keep?: boolean }[];
  /** Directories it writes into. */
  dirs: string[];
  /** What answers once it is up, and whether that answer must be a 2xx (a worker's /readyz says 503 until it has joined its group). */
  ready: string;
  ok: boolean;
  timeoutMs: number;
  /**
   * The cache nodes whose files it reads (their daemons, `nginx-cache-<colo>-<n>`): across
   * hosts those files must be brought to it, or, where `beside` (the purgers delete cache
   * entries), it must run on the nodes' host.
   */
  reads?: { nodes: string[]; beside: boolean };
}

export interface DaemonPaths {
  /** A daemon's config directory. */
  config(daemon: string): string;
  /** A daemon's state directory (data, pid file, log). */
  state(daemon: string): string;
  /** Where the nginx instances' prefixes are (`<nginx>/<instance>`). */
  nginx: string;
}

/** The identity tier's blocklist: the topology's, or one in its state directory. */
export const blocklistFile = (t: Topology, paths: DaemonPaths): string => t.pipeline?.blocklist ?? join(paths.state('identity'), 'blocklist.txt');

/** Where batch jobs write their metrics files (`--metrics-file <dir>/<job>.prom`) for node-exporter's textfile collector. */
export const textfileDir = (paths: DaemonPaths): string => paths.state('textfile');

/** Every daemon of the topology but nginx, Kafka and Ceph, in start order. */
export function daemonSpecs(t: Topology, paths: DaemonPaths): DaemonSpec[] {
  const specs: DaemonSpec[] = [];
  let pending: DaemonSpec['files'] = [];
  const config = (daemon: string, name: string, content: unknown): string => {
    const path = join(paths.config(daemon), name);
    pending.push({ path, content: typeof content === 'string' ? content : JSON.stringify(content, null, 2) });
    return path;
  };
  const add = (
    name: string,
    stage: Stage,
    args: string[],
    ready: string,
    o: { exe?: string; ok?: boolean; timeoutMs?: number; dirs?: string[]; reads?: DaemonSpec['reads'] } = {},
  ): void => {
    specs.push({
      name,
      stage,
      args,
      ready,
      files: pending,
      dirs: o.dirs ?? [],
      ok: o.ok ?? false,
      timeoutMs: o.timeoutMs ?? 5000,
      ...(o.exe ? { exe: o.exe } : {}),
      ...(o.reads ? { reads: o.reads } : {}),
    });
    pending = [];
  };
  const store = storeSpec(t);

  if (t.store)
    add('store', 'store', ['store', 'serve', '--listen', t.store.listen, '--http', t.store.metrics, '--dir', t.store.dir], `http://${t.store.metrics}/readyz`, {
      ok: true,
      timeoutMs: 120_000,
      dirs: [t.store.dir],
    });
  if (t.origin.service) {
    const metrics = t.origin.serviceMetrics as string;
    add('origin', 'origin', ['origin', '--listen', t.origin.service, '--http', metrics, '--store', store], `http://${metrics}/healthz`);
  }
  const delay = t.origin.delay;
  if (delay)
    add(
      'origin-delay',
      'origin',
      ['origin-delay', '--listen', delay.listen, '--to', t.origin.listen, '--delay-ms', String(delay.ms)],
      `http://${delay.listen}/`,
    );
  for (const w of warmers(t)) add(w.name, 'warm', ['warmer', '--config', config(w.name, 'warmer.json', warmerConfigFor(t, w))], `http://${w.http}/healthz`);

  const p = t.pipeline;
  if (!p || !t.kafka) return specs;
  // A 10 s session (30 s by default): a killed worker's partitions move to the others sooner.
  const worker = (http: string) => ({
    store,
    kafka: { brokers: kafkaBrokers(t), partitions: PIPELINE_PARTITIONS, sessionTimeoutMs: 10_000 },
    http: splitAddress(http),
  });
  const workerReady = (http: string) => `http://${http}/readyz`;
  const joins = { ok: true, timeoutMs: 60_000 };
  const blocklist = blocklistFile(t, paths);
  if (!p.blocklist)
    pending.push({ path: blocklist, content: '# PDQ hashes (64 hex digits a line) whose uploads are quarantined; read again when it changes\n', keep: true });
  const identityState = storeIsService(t) ? { stateDir: join(paths.state('identity'), 'state') } : {};
  add(
    'identity',
    'pipeline',
    ['identity', 'worker', '--config', config('identity', 'identity.json', { ...worker(p.identity), blocklist, ...identityState })],
    workerReady(p.identity),
    joins,
  );
  for (const [i, http] of p.resizeWorkers.entries())
    add(
      `resize-${i}`,
      'pipeline',
      ['resize', '--config', config(`resize-${i}`, 'resize.json', { ...worker(http), ...(p.variants ? { variants: { formats: p.variants } } : {}) })],
      workerReady(http),
      joins,
    );
  add('takedown', 'pipeline', ['takedown', 'worker', '--config', config('takedown', 'takedown.json', worker(p.takedown))], workerReady(p.takedown), joins);
  const nginx = renderAll(t, paths.nginx);
  for (const [i, colo] of t.colos.entries()) {
    const http = p.purgers[i] as string;
    const dirs = nginx.filter((n) => n.colo === colo.name).map((n) => n.dir);
    const purge = config(`purge-${colo.name}`, 'purge.json', {
      kafka: worker(http).kafka,
      http: splitAddress(http),
      ...purgerConfigFor(colo, dirs, CACHE_LEVELS),
    });
    add(`purge-${colo.name}`, 'pipeline', ['purge', '--config', purge], workerReady(http), {
      ...joins,
      reads: { nodes: colo.nodes.map((_, n) => `nginx-${cacheName(colo, n)}`), beside: true },
    });
  }
  add(
    'perceptual',
    'pipeline',
    ['compress', 'perceptual', '--config', config('perceptual', 'compress.json', worker(p.perceptual))],
    workerReady(p.perceptual),
    joins,
  );
  const logs = nginx.filter((n) => n.role === 'cache').map((n) => join(n.dir, 'logs', 'access.log'));
  const everyNode = { nodes: t.colos.flatMap((colo) => colo.nodes.map((_, n) => `nginx-${cacheName(colo, n)}`)), beside: false };
  add('cache-logs', 'pipeline', mtailArgs(p.cacheLogs, logs), `http://${p.cacheLogs}/metrics`, { exe: 'mtail', timeoutMs: 15_000, reads: everyNode });
  add('race', 'pipeline', ['race', '--config', config('race', 'race.json', { logs, http: splitAddress(p.race) })], `http://${p.race}/readyz`, {
    ok: true,
    timeoutMs: 15_000,
    reads: everyNode,
  });
  const textfiles = textfileDir(paths);
  add(
    'textfiles',
    'pipeline',
    [`--web.listen-address=${p.textfiles}`, '--collector.disable-defaults', '--collector.textfile', `--collector.textfile.directory=${textfiles}`],
    `http://${p.textfiles}/metrics`,
    { exe: 'prometheus-node-exporter', dirs: [textfiles] },
  );
  const { listen, retention } = p.prometheus;
  const prometheus = config('prometheus', 'prometheus.yml', renderPrometheusConfig({ jobs: scrapeJobsFor(t) }));
  const data = join(paths.state('prometheus'), 'data');
  add(
    'prometheus',
    'pipeline',
    [`--config.file=${prometheus}`, `--storage.tsdb.path=${data}`, `--storage.tsdb.retention.time=${retention}`, `--web.listen-address=${listen}`],
    `http://${listen}/-/ready`,
    { exe: 'prometheus', ok: true, timeoutMs: 30_000, dirs: [data] },
  );
  add(
    'dashboard',
    'pipeline',
    ['dashboard', '--config', config('dashboard', 'dashboard.json', { http: splitAddress(p.dashboard), prometheus: `http://${listen}` })],
    `http://${p.dashboard}/readyz`,
    { ok: true, timeoutMs: 15_000 },
  );
  return specs;
}
