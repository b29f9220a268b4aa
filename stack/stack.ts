/**
 * The local stack: origin front, regional caches and keep-alive proxy (each its own
 * nginx with its own prefix under the state directory) and the warmer, all from one
 * topology; with `pipeline`, also the Kafka broker with the pipeline's topics, the
 * identity tier, the resize workers (one consumer group), the perceptual worker and Prometheus. `up` is
 * idempotent, `down` stops only what `up` started (by the pid files in the state
 * directory), `status` says what runs where.
 */
import { isAlive as alive, livePid, HEARTH_CLI } from '../common/index.js';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KafkaBroker, KafkaCluster, createKafka, ensureTopics } from '../kafka/index.js';
import { createLogger } from '../common/index.js';
import { NginxInstance, ensureCerts, renderAll } from '../proxy-config/index.js';
import { kafkaBrokers, parseTopology, placements, splitAddress, storeIsService, storeSpec, warmers, type Topology } from '../topology/index.js';
import type { TestNetwork } from '../netns/index.js';
import { testHostsFor, wrapperFor } from './test-hosts.js';
import { PIPELINE_TOPICS, blocklistFile, daemonSpecs, textfileDir, type DaemonPaths, type DaemonSpec, type Stage } from './daemons.js';
import { CephCluster } from '../ceph/index.js';
import { copyStore, openStore } from '../store/index.js';

export interface StackStatus {
  stateDir: string;
  warmer: { udp: string; http: string; pid: number | null; running: boolean };
  /** Every warmer (the first is `warmer`): api-hook's senders list their `udp` in this order. */
  warmers: { name: string; udp: string; http: string; pid: number | null; running: boolean }[];
  proxy: { address: string; pid: number | null; running: boolean; tls: boolean };
  origin: {
    address: string;
    root: string;
    pid: number | null;
    running: boolean;
    service: { address: string; metrics: string; running: boolean } | null;
    delay: { ms: number; address: string; running: boolean } | null;
  };
  /** The store service, when the topology has one (every tier's store); null: `origin.root` as a `dir` store. */
  store: { address: string; metrics: string; dir: string; running: boolean } | null;
  /** The Ceph cluster, when the topology has one (every tier's store is its bucket). */
  ceph?: { s3: string; bucket: string; metrics: string; dir: string; running: boolean };
  colos: { name: string; cache: string[]; host: string; pushHost: string; cidrs: string[]; running: boolean[] }[];
  /** `address`: every node's, comma-separated; `nodes`: 1, or 3 and more for a KRaft cluster. */
  kafka?: { address: string; running: boolean; pid: number | null; nodes: number };
  prometheus?: { address: string; running: boolean; pid: number | null };
  dashboard?: { address: string; running: boolean; pid: number | null };
  /** mtail over the cache nodes' access logs. */
  cacheLogs?: { address: string; running: boolean; pid: number | null };
  race?: { address: string; running: boolean; pid: number | null };
  /** node-exporter's textfile collector, and the directory batch jobs write their metrics files into. */
  textfiles?: { address: string; dir: string; running: boolean; pid: number | null };
  workers?: { identity: WorkerStatus; resize: WorkerStatus[]; perceptual: WorkerStatus[]; takedown: WorkerStatus; purge: (WorkerStatus & { colo: string })[] };
  /** The identity tier's blocklist file. */
  blocklist?: string;
  /** With `--hosts`: each host, its namespace and address, and the daemons on it. */
  hosts?: { name: string; address: string; ns: string; daemons: string[] }[];
  logs: string;
}

export interface WorkerStatus {
  /** Its `/metrics`, `/healthz` and `/readyz`. */
  http: string;
  running: boolean;
  pid: number | null;
  /** What its `/healthz` said (`checkedStatus` only): a live process whose consumer is stopped or stuck is not healthy. */
  healthy?: boolean;
  /** Why not, in its own words. */
  problems?: string[];
}

/** A worker's own word on whether it is doing its work: its `/healthz`, within 2 s. */
async function askHealth(http: string): Promise<{ healthy: boolean; problems?: string[] }> {
  try {
    const res = await fetch(`http://${http}/healthz`, { signal: AbortSignal.timeout(2000) });
    if (res.ok) return { healthy: true };
    const body = (await res.json().catch(() => ({}))) as { problems?: unknown };
    return { healthy: false, problems: Array.isArray(body.problems) ? body.problems.map(String) : [`/healthz answered ${res.status}`] };
  } catch (err) {
    return { healthy: false, problems: [`/healthz: ${(err as Error).message}`] };
  }
}

/** A process the stack starts: `warmer`, `origin`, `origin-delay`, `identity`, `resize-<n>`, `takedown`, `purge-<colo>`, `perceptual`, `cache-logs` (mtail), `race`, `textfiles` (node-exporter), `prometheus`, `dashboard`. */
type Daemon = string;

export interface StackOptions {
  /** Each host of the topology's `hosts` a network namespace on this machine, every daemon on its host (`stack up --hosts`). */
  hosts?: boolean;
  /** The namespaces' tag (`hearth-<tag>-<host>`, 1 to 4 letters or digits): a test's stack beside the CLI's. */
  hostsTag?: string;
}

export class Stack {
  readonly topology: Topology;
  /** The test hosts every daemon runs on (`hosts`), for failure drills: kill a host, cut its link. */
  readonly network: TestNetwork | undefined;
  private readonly wrapFor: (daemon: string) => string[];
  private readonly nginx: NginxInstance[];
  private readonly kafka: KafkaBroker | KafkaCluster | undefined;
  private readonly ceph: CephCluster | undefined;

  constructor(
    readonly stateDir: string,
    topology: Topology,
    readonly options: StackOptions = {},
  ) {
    this.topology = topology;
    this.network = options.hosts ? testHostsFor(topology, options.hostsTag ?? 'stk') : undefined;
    this.wrapFor = wrapperFor(topology, this.network);
    this.paths = { config: (d) => join(stateDir, d), state: (d) => join(stateDir, d), nginx: join(stateDir, 'nginx') };
    this.nginx = renderAll(topology, join(stateDir, 'nginx')).map((i) => new NginxInstance(i));
    const k = topology.kafka;
    const node = (n: { listen: string; controller: string }, i: number) => ({
      host: splitAddress(n.listen).host,
      port: splitAddress(n.listen).port,
      controllerPort: splitAddress(n.controller).port,
      wrap: this.wrapFor(`kafka-${i + 1}`),
    });
    this.kafka = !k
      ? undefined
      : k.peers
        ? new KafkaCluster({ dir: join(stateDir, 'kafka'), nodes: [k, ...k.peers].map(node) })
        : new KafkaBroker({ dir: join(stateDir, 'kafka'), ...node(k, 0) });
    const c = topology.ceph;
    this.ceph = c
      ? new CephCluster({
          dir: c.dir,
          host: splitAddress(c.s3).host,
          monPort: splitAddress(c.mon).port,
          rgwPort: splitAddress(c.s3).port,
          metricsPort: splitAddress(c.metrics).port,
          osds: c.osds,
          bucket: c.bucket,
          wrap: this.wrapFor('ceph'),
          ...(c.osdHosts
            ? { osdHosts: c.osdHosts.map((h, i) => ({ address: topology.hosts!.find((x) => x.name === h)!.address, wrap: this.wrapFor(`ceph-osd-${i}`) })) }
            : {}),
        })
      : undefined;
  }

  /** The stack recorded in a state directory by an earlier `up`, if any. */
  static load(stateDir: string): Stack | undefined {
    const file = join(stateDir, 'topology.json');
    if (!existsSync(file)) return undefined;
    const hosts = join(stateDir, 'hosts.json');
    const options = existsSync(hosts) ? (JSON.parse(readFileSync(hosts, 'utf8')) as StackOptions) : {};
    return new Stack(stateDir, parseTopology(JSON.parse(readFileSync(file, 'utf8')), file), options);
  }

  /** Where batch jobs of this stack write their metrics files (`--metrics-file <dir>/<job>.prom`). */
  textfileDir(): string {
    return textfileDir(this.paths);
  }

  private pidFile(daemon: Daemon): string {
    return join(this.stateDir, daemon, `${daemon}.pid`);
  }

  /** The pid of a daemon this state directory started, if it still runs. */
  daemonPid(daemon: Daemon): number | undefined {
    return livePid(this.pidFile(daemon));
  }

  warmerPid(): number | undefined {
    return this.daemonPid('warmer');
  }

  async up(): Promise<StackStatus> {
    mkdirSync(this.stateDir, { recursive: true });
    const recorded = Stack.load(this.stateDir);
    if (recorded && recorded.anyRunning()) {
      const changed = changesBeyondAdditions(recorded.topology, this.topology);
      if (changed.length > 0)
        throw new Error(`a different stack is running from ${this.stateDir} (${changed.join(', ')} would change); run \`hearth stack down\` first`);
    }
    writeFileSync(join(this.stateDir, 'topology.json'), JSON.stringify(this.topology, null, 2));
    if (this.network) {
      writeFileSync(join(this.stateDir, 'hosts.json'), JSON.stringify({ hosts: true, hostsTag: this.options.hostsTag ?? 'stk' }));
      // Made once: making them again would kill what runs on them.
      if (!this.network.exists()) await this.network.up();
    } else rmSync(join(this.stateDir, 'hosts.json'), { force: true });
    if (this.topology.proxy.tls && this.topology.proxy.certDir) await ensureCerts(this.topology, this.topology.proxy.certDir);
    for (const n of this.nginx) {
      n.write();
      await n.test(this.wrapFor(`nginx-${n.inst.name}`));
    }
    // Backends first, so the proxy never routes to a cache that is not there yet.
    await this.startStore();
    await this.startStage('origin');
    for (const n of this.nginx) await n.start(this.wrapFor(`nginx-${n.inst.name}`));
    await this.startStage('warm');
    await this.kafka?.start();
    await this.startPipeline();
    return this.status();
  }

  /** Every daemon this topology has, in start order. */
  private daemons(): Daemon[] {
    return this.specs().map((d) => d.name);
  }

  private anyRunning(): boolean {
    return (
      this.daemons().some((d) => this.daemonPid(d) !== undefined) ||
      this.nginx.some((n) => n.pid() !== undefined) ||
      this.kafka?.pid() !== undefined ||
      this.ceph?.running() === true
    );
  }

  /**
   * Starts a daemon detached, logging to `<state>/<daemon>/<daemon>.log`, with its files
   * written first (owner-readable only), and waits until its `ready` answers.
   */
  private async startDaemon(spec: DaemonSpec): Promise<void> {
    const daemon = spec.name;
    if (this.daemonPid(daemon)) return;
    for (const f of spec.files) {
      if (f.keep && existsSync(f.path)) continue;
      mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
      writeFileSync(f.path, f.content, { mode: 0o600 });
      chmodSync(f.path, 0o600); // writeFileSync's mode applies only to a new file
    }
    for (const d of spec.dirs) mkdirSync(d, { recursive: true });
    const dir = join(this.stateDir, daemon);
    mkdirSync(dir, { recursive: true });
    const logFile = join(dir, `${daemon}.log`);
    const log = openSync(logFile, 'a');
    const [cmd, ...args] = [...this.wrapFor(daemon), ...(spec.exe ? [spec.exe] : [process.execPath, HEARTH_CLI]), ...spec.args] as [string, ...string[]];
    // `ip netns exec` execs the daemon in place: the pid written is the daemon's.
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    writeFileSync(this.pidFile(daemon), String(child.pid));
    const deadline = Date.now() + spec.timeoutMs;
    while (Date.now() < deadline && child.exitCode === null) {
      const answered = await fetch(spec.ready).then(
        (r) => !spec.ok || r.ok,
        () => false,
      );
      if (answered) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${daemon} did not come up${child.exitCode !== null ? ` (exited with ${child.exitCode})` : ''}; see ${logFile}`);
  }

  /** The paths of this stack's daemons: each its own directory under the state directory, config and state alike. */
  readonly paths: DaemonPaths;

  /** Every daemon of this stack but nginx, Kafka and Ceph, in start order. */
  private specs(): DaemonSpec[] {
    return daemonSpecs(this.topology, this.paths);
  }

  private async startStage(stage: Stage): Promise<void> {
    for (const spec of this.specs().filter((s) => s.stage === stage)) await this.startDaemon(spec);
  }

  /** The pipeline's topics, then the identity tier, the resize workers (one group), the perceptual worker and what watches them. */
  private async startPipeline(): Promise<void> {
    if (!this.topology.pipeline || !this.topology.kafka) return;
    // The workers write into the store (and say they are not ready until they can).
    mkdirSync(this.topology.origin.root, { recursive: true });
    const kafka = createKafka(kafkaBrokers(this.topology), 'hearth-stack', createLogger('stack', 'warn'));
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, PIPELINE_TOPICS);
    } finally {
      await admin.disconnect();
    }
    await this.startStage('pipeline');
  }

  /** The identity tier's blocklist: the topology's, or one in the state directory. */
  blocklistFile(): string {
    return blocklistFile(this.topology, this.paths);
  }

  private async stopDaemon(daemon: Daemon): Promise<void> {
    const pid = this.daemonPid(daemon);
    if (pid) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(this.pidFile(daemon), { force: true });
  }

  /**
   * The store service or the Ceph cluster, when the topology has one, then `origin.root`
   * imported into it: resumable and verified (copyStore): the first `up` copies, a later
   * one reads each object again and finds it there (a few seconds for the corpus).
   */
  private async startStore(): Promise<void> {
    await this.startStage('store');
    await this.ceph?.start();
    if (!storeIsService(this.topology) || !existsSync(this.topology.origin.root)) return;
    const from = openStore(this.topology.origin.root);
    const to = openStore(storeSpec(this.topology));
    try {
      const r = await copyStore({ from, to });
      if (r.conflicts.length)
        throw new Error(
          `importing ${this.topology.origin.root} into ${storeSpec(this.topology)}: ${r.conflicts.length} keys hold other bytes there (first: ${r.conflicts[0]})`,
        );
    } finally {
      await Promise.all([from.close(), to.close()]);
    }
  }

  async down(): Promise<void> {
    // What consumes and watches first, then the warm path, then the broker: the reverse of up.
    const warm = warmers(this.topology).map((w) => w.name);
    for (const d of this.daemons()
      .reverse()
      .filter((x) => ![...warm, 'origin', 'origin-delay', 'store'].includes(x)))
      await this.stopDaemon(d);
    for (const w of warm) await this.stopDaemon(w);
    // The proxy first, then the caches, then the origin: the reverse of up.
    for (const n of [...this.nginx].reverse()) await n.stop();
    await this.stopDaemon('origin-delay');
    await this.stopDaemon('origin');
    await this.stopDaemon('store');
    await this.ceph?.stop();
    await this.kafka?.stop();
    await this.network?.down();
  }

  status(): StackStatus {
    const t = this.topology;
    const byName = new Map(this.nginx.map((n) => [n.inst.name, n]));
    const pidOf = (name: string): number | null => byName.get(name)?.pid() ?? null;
    const warmerPid = this.warmerPid() ?? null;
    return {
      stateDir: this.stateDir,
      warmer: { udp: t.warmer.udp, http: t.warmer.http, pid: warmerPid, running: warmerPid !== null },
      warmers: warmers(t).map((w) => ({ name: w.name, udp: w.udp, http: w.http, ...this.running(w.name) })),
      proxy: { address: t.proxy.listen, pid: pidOf('proxy'), running: pidOf('proxy') !== null, tls: t.proxy.tls },
      origin: {
        address: t.origin.listen,
        root: t.origin.root,
        pid: pidOf('origin'),
        running: pidOf('origin') !== null,
        service: t.origin.service
          ? { address: t.origin.service, metrics: t.origin.serviceMetrics as string, running: this.daemonPid('origin') !== undefined }
          : null,
        delay: t.origin.delay ? { ms: t.origin.delay.ms, address: t.origin.delay.listen, running: this.daemonPid('origin-delay') !== undefined } : null,
      },
      store: t.store ? { address: t.store.listen, metrics: t.store.metrics, dir: t.store.dir, running: this.daemonPid('store') !== undefined } : null,
      ...(t.ceph && this.ceph
        ? { ceph: { s3: t.ceph.s3, bucket: t.ceph.bucket, metrics: t.ceph.metrics, dir: t.ceph.dir, running: this.ceph.pid('client.rgw.a') !== undefined } }
        : {}),
      colos: t.colos.map((c) => ({
        name: c.name,
        cache: c.nodes,
        host: c.viewerHosts[0] ?? c.host,
        pushHost: c.host,
        cidrs: c.cidrs,
        running: this.nginx.filter((n) => n.inst.colo === c.name).map((n) => n.pid() !== undefined),
      })),
      ...(this.kafka
        ? {
            kafka: {
              address: kafkaBrokers(t).join(','),
              running: this.kafka.pid() !== undefined,
              pid: this.kafka.pid() ?? null,
              nodes: kafkaBrokers(t).length,
            },
          }
        : {}),
      ...(t.pipeline
        ? {
            prometheus: { address: t.pipeline.prometheus.listen, ...this.running('prometheus') },
            dashboard: { address: t.pipeline.dashboard, ...this.running('dashboard') },
            cacheLogs: { address: t.pipeline.cacheLogs, ...this.running('cache-logs') },
            race: { address: t.pipeline.race, ...this.running('race') },
            textfiles: { address: t.pipeline.textfiles, dir: this.textfileDir(), ...this.running('textfiles') },
            workers: {
              identity: { http: t.pipeline.identity, ...this.running('identity') },
              resize: t.pipeline.resizeWorkers.map((http, i) => ({ http, ...this.running(`resize-${i}`) })),
              perceptual: [{ http: t.pipeline.perceptual, ...this.running('perceptual') }],
              takedown: { http: t.pipeline.takedown, ...this.running('takedown') },
              purge: t.colos.map((c, i) => ({ colo: c.name, http: t.pipeline?.purgers[i] as string, ...this.running(`purge-${c.name}`) })),
            },
            blocklist: this.blocklistFile(),
          }
        : {}),
      ...(this.network
        ? {
            hosts: [...this.network.hosts.values()].map((h) => ({
              name: h.name,
              address: h.address,
              ns: h.ns,
              daemons: placements(t)
                .filter((p) => p.host === h.name)
                .map((p) => p.daemon),
            })),
          }
        : {}),
      logs: this.stateDir,
    };
  }

  /** `status()` with every running worker's `/healthz` asked: a process that runs but does no work is not up. */
  async checkedStatus(): Promise<StackStatus> {
    const s = this.status();
    const workers = s.workers ? [s.workers.identity, ...s.workers.resize, ...s.workers.perceptual, s.workers.takedown, ...s.workers.purge] : [];
    await Promise.all(workers.filter((w) => w.running).map(async (w) => Object.assign(w, await askHealth(w.http))));
    return s;
  }

  /**
   * SIGKILL to everything this stack started, at once and synchronously: for a process
   * `exit` handler, where `down()` (async) would never finish. Not a way to stop a stack.
   */
  killAll(): void {
    const signal = (pid: number | undefined, sig: NodeJS.Signals): void => {
      if (pid === undefined) return;
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    };
    for (const pid of [...this.daemons().map((d) => this.daemonPid(d)), this.kafka?.pid()]) signal(pid, 'SIGKILL');
    // nginx's fast shutdown: a killed master would leave its workers holding the ports.
    for (const n of this.nginx) signal(n.pid(), 'SIGTERM');
  }

  private running(daemon: Daemon): { running: boolean; pid: number | null } {
    const pid = this.daemonPid(daemon);
    return { running: pid !== undefined, pid: pid ?? null };
  }

  /** The nginx instances, for tests and tools that read their access logs. */
  instances(): readonly NginxInstance[] {
    return this.nginx;
  }
}

/**
 * What `next` changes in a running stack's topology, other than parts it adds (a Kafka
 * broker): those can join a running stack; anything else would need what runs restarted.
 */
export function changesBeyondAdditions(running: Topology, next: Topology): string[] {
  const comparable = { ...next, ...(running.kafka ? {} : { kafka: undefined }), ...(running.pipeline ? {} : { pipeline: undefined }) };
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]) as Set<keyof Topology>;
  return [...keys].filter((k) => JSON.stringify(running[k]) !== JSON.stringify(comparable[k]));
}

export function formatStatus(s: StackStatus): string {
  const mark = (up: boolean): string => (up ? 'up  ' : 'DOWN');
  const worker = (w: WorkerStatus): string => mark(w.running && w.healthy !== false);
  const failing = (w: WorkerStatus): string => (w.running && w.healthy === false ? `  FAILING: ${(w.problems ?? []).join('; ')}` : '');
  const lines = [
    `state: ${s.stateDir}`,
    ...s.warmers.map((w) => `${mark(w.running)} warmer   ${w.name === 'warmer' ? '' : `${w.name.slice(7)} `}udp ${w.udp}  metrics http://${w.http}/metrics`),
    `${mark(s.proxy.running)} proxy    ${s.proxy.address}${s.proxy.tls ? ' (TLS to caches)' : ''}`,
    ...s.colos.flatMap((c) =>
      c.cache.map(
        (addr, i) => `${mark(c.running[i] ?? false)} cache    ${c.name}  ${addr}  Host: ${c.host} (push: ${c.pushHost})  viewers ${c.cidrs.join(', ') || '-'}`,
      ),
    ),
    `${mark(s.origin.running)} origin   ${s.origin.address}  root ${s.origin.root}`,
    ...(s.origin.service
      ? [
          `${mark(s.origin.service.running)} origin   ${s.origin.service.address}  service: sizes not stored, made on the fly; metrics http://${s.origin.service.metrics}/metrics`,
        ]
      : []),
    ...(s.kafka
      ? [`${mark(s.kafka.running)} kafka    ${s.kafka.address}  (KRaft, ${s.kafka.nodes === 1 ? 'single node' : `${s.kafka.nodes} nodes, every topic on 3`})`]
      : []),
    ...(s.workers
      ? [
          `${worker(s.workers.identity)} identity duplicates, quarantine (blocklist ${s.blocklist ?? '-'})  metrics http://${s.workers.identity.http}/metrics${failing(s.workers.identity)}`,
        ]
      : []),
    ...(s.workers?.resize ?? []).map((w, i) => `${worker(w)} resize   #${i}  metrics http://${w.http}/metrics${failing(w)}`),
    ...(s.workers?.perceptual ?? []).map((w) => `${worker(w)} compress perceptual  metrics http://${w.http}/metrics${failing(w)}`),
    ...(s.workers
      ? [
          `${worker(s.workers.takedown)} takedown deletes asked for on hearth.images.delete  metrics http://${s.workers.takedown.http}/metrics${failing(s.workers.takedown)}`,
        ]
      : []),
    ...(s.workers?.purge ?? []).map(
      (w) => `${worker(w)} purge    ${w.colo}: its cache nodes drop what is taken down  metrics http://${w.http}/metrics${failing(w)}`,
    ),
    ...(s.cacheLogs
      ? [`${mark(s.cacheLogs.running)} mtail    http://${s.cacheLogs.address}/metrics  (the caches' access logs as hearth_cache_* metrics)`]
      : []),
    ...(s.race ? [`${mark(s.race.running)} race     http://${s.race.address}/metrics  (pushes against first views: won, lost)`] : []),
    ...(s.textfiles
      ? [`${mark(s.textfiles.running)} textfile http://${s.textfiles.address}/metrics  (batch jobs' --metrics-file ${s.textfiles.dir}/<job>.prom)`]
      : []),
    ...(s.prometheus ? [`${mark(s.prometheus.running)} prom     http://${s.prometheus.address}/  (Prometheus: targets, rules, alerts)`] : []),
    ...(s.dashboard ? [`${mark(s.dashboard.running)} dash     http://${s.dashboard.address}/  (the dashboard)`] : []),
    ...(s.store ? [`${mark(s.store.running)} store    ${s.store.address}  volumes in ${s.store.dir}; metrics http://${s.store.metrics}/metrics`] : []),
    ...(s.ceph
      ? [
          `${mark(s.ceph.running)} ceph     S3 http://${s.ceph.s3}/${s.ceph.bucket}  cluster in ${s.ceph.dir} (hearth ceph status --state ${s.ceph.dir}); metrics http://${s.ceph.metrics}/metrics`,
        ]
      : []),
    ...(s.origin.delay ? [`${mark(s.origin.delay.running)} delay    ${s.origin.delay.address}  +${s.origin.delay.ms} ms before every origin fetch`] : []),
    ...(s.hosts ?? []).map((h) => `host     ${h.name} ${h.address} (ip netns exec ${h.ns}): ${h.daemons.join(' ')}`),
    `logs: ${s.logs}/nginx/<instance>/logs/access.log (JSON, with cache status and timings), ${s.logs}/warmer/warmer.log`,
  ];
  return `${lines.join('\n')}\n`;
}
