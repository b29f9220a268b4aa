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
import { join } from 'node:path';
import { KafkaBroker, TOPICS, createKafka, ensureTopics } from '../kafka/index.js';
import { mtailArgs, renderPrometheusConfig, scrapeJobsFor } from '../monitoring/index.js';
import { createLogger } from '../common/index.js';
import { CACHE_LEVELS, NginxInstance, ensureCerts, renderAll } from '../proxy-config/index.js';
import { parseTopology, purgerConfigFor, splitAddress, storeSpec, warmerConfigFor, type Topology } from '../topology/index.js';
import { copyStore, openStore } from '../store/index.js';

export interface StackStatus {
  stateDir: string;
  warmer: { udp: string; http: string; pid: number | null; running: boolean };
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
  colos: { name: string; cache: string[]; host: string; pushHost: string; cidrs: string[]; running: boolean[] }[];
  kafka?: { address: string; running: boolean; pid: number | null };
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

/** Partitions of the pipeline's topics: more than any local stack's workers, so each can own some. */
const PIPELINE_PARTITIONS = 8;

/** A process the stack starts: `warmer`, `origin`, `origin-delay`, `identity`, `resize-<n>`, `takedown`, `purge-<colo>`, `perceptual`, `cache-logs` (mtail), `race`, `textfiles` (node-exporter), `prometheus`, `dashboard`. */
type Daemon = string;

export class Stack {
  readonly topology: Topology;
  private readonly nginx: NginxInstance[];
  private readonly kafka: KafkaBroker | undefined;

  constructor(
    readonly stateDir: string,
    topology: Topology,
  ) {
    this.topology = topology;
    this.nginx = renderAll(topology, join(stateDir, 'nginx')).map((i) => new NginxInstance(i));
    const k = topology.kafka;
    this.kafka = k ? new KafkaBroker({ dir: join(stateDir, 'kafka'), host: splitAddress(k.listen).host, port: splitAddress(k.listen).port, controllerPort: splitAddress(k.controller).port }) : undefined;
  }

  /** The stack recorded in a state directory by an earlier `up`, if any. */
  static load(stateDir: string): Stack | undefined {
    const file = join(stateDir, 'topology.json');
    if (!existsSync(file)) return undefined;
    return new Stack(stateDir, parseTopology(JSON.parse(readFileSync(file, 'utf8')), file));
  }

  /** Where batch jobs of this stack write their metrics files (`--metrics-file <dir>/<job>.prom`). */
  textfileDir(): string {
    return join(this.stateDir, 'textfile');
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
      if (changed.length > 0) throw new Error(`a different stack is running from ${this.stateDir} (${changed.join(', ')} would change); run \`hearth stack down\` first`);
    }
    writeFileSync(join(this.stateDir, 'topology.json'), JSON.stringify(this.topology, null, 2));
    if (this.topology.proxy.tls && this.topology.proxy.certDir) await ensureCerts(this.topology, this.topology.proxy.certDir);
    for (const n of this.nginx) {
      n.write();
      await n.test();
    }
    // Backends first, so the proxy never routes to a cache that is not there yet.
    await this.startStore();
    await this.startOriginService();
    await this.startLatencyProxy();
    for (const n of this.nginx) await n.start();
    await this.startWarmer();
    await this.kafka?.start();
    await this.startPipeline();
    return this.status();
  }

  /** Every daemon this topology has, in start order. */
  private daemons(): Daemon[] {
    const p = this.topology.pipeline;
    return [...(this.topology.store ? ['store'] : []), 'origin', 'origin-delay', 'warmer', ...(p ? ['identity', ...p.resizeWorkers.map((_, i) => `resize-${i}`), 'takedown', ...this.topology.colos.map((c) => `purge-${c.name}`), 'perceptual', 'cache-logs', 'race', 'textfiles', 'prometheus', 'dashboard'] : [])];
  }

  private anyRunning(): boolean {
    return this.daemons().some((d) => this.daemonPid(d) !== undefined) || this.nginx.some((n) => n.pid() !== undefined) || this.kafka?.pid() !== undefined;
  }

  /**
   * Starts `hearth <args>` (or another program, `exe`) detached, logging to
   * `<state>/<daemon>/<daemon>.log`, and waits until `ready` answers (with a 2xx when
   * `ok`: a worker's /readyz says 503 until it has joined its group).
   */
  private async startDaemon(daemon: Daemon, args: string[], ready: string, o: { exe?: string; ok?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.daemonPid(daemon)) return;
    const dir = join(this.stateDir, daemon);
    mkdirSync(dir, { recursive: true });
    const logFile = join(dir, `${daemon}.log`);
    const log = openSync(logFile, 'a');
    const child = o.exe ? spawn(o.exe, args, { detached: true, stdio: ['ignore', log, log] }) : spawn(process.execPath, [HEARTH_CLI, ...args], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    writeFileSync(this.pidFile(daemon), String(child.pid));
    const deadline = Date.now() + (o.timeoutMs ?? 5000);
    while (Date.now() < deadline && child.exitCode === null) {
      const answered = await fetch(ready).then(
        (r) => !o.ok || r.ok,
        () => false,
      );
      if (answered) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${daemon} did not come up${child.exitCode !== null ? ` (exited with ${child.exitCode})` : ''}; see ${logFile}`);
  }

  /** The pipeline's topics, then the identity tier, the resize workers (one group), the perceptual worker and Prometheus. */
  private async startPipeline(): Promise<void> {
    const p = this.topology.pipeline;
    const k = this.topology.kafka;
    if (!p || !k) return;
    // The workers write into the store (and say they are not ready until they can).
    mkdirSync(this.topology.origin.root, { recursive: true });
    const kafka = createKafka([k.listen], 'hearth-stack', createLogger('stack', 'warn'));
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, {
        [TOPICS.uploaded]: PIPELINE_PARTITIONS,
        [TOPICS.accepted]: PIPELINE_PARTITIONS,
        [TOPICS.matched]: PIPELINE_PARTITIONS,
        [TOPICS.quarantined]: 1,
        [TOPICS.resized]: PIPELINE_PARTITIONS, [TOPICS.compressed]: PIPELINE_PARTITIONS, [TOPICS.dead]: 1,
        [TOPICS.takedown]: PIPELINE_PARTITIONS,
        [TOPICS.deleteRequests]: PIPELINE_PARTITIONS,
        [TOPICS.purged]: PIPELINE_PARTITIONS });
    } finally {
      await admin.disconnect();
    }
    // A 10 s session locally (30 s by default): a killed worker's partitions move to the others sooner.
    const worker = (http: string) => ({ store: storeSpec(this.topology), kafka: { brokers: [k.listen], partitions: PIPELINE_PARTITIONS, sessionTimeoutMs: 10_000 }, http: splitAddress(http) });
    const blocklist = this.blocklistFile();
    if (!existsSync(blocklist)) this.writeConfig('identity', 'blocklist.txt', '# PDQ hashes (64 hex digits a line) whose uploads are quarantined; read again when it changes\n');
    const identity = this.writeConfig('identity', 'identity.json', { ...worker(p.identity), blocklist, ...(this.topology.store ? { stateDir: join(this.stateDir, 'identity', 'state') } : {}) });
    await this.startDaemon('identity', ['identity', 'worker', '--config', identity], `http://${p.identity}/readyz`, { ok: true, timeoutMs: 60_000 });
    for (const [i, http] of p.resizeWorkers.entries()) {
      const config = this.writeConfig(`resize-${i}`, 'resize.json', worker(http));
      await this.startDaemon(`resize-${i}`, ['resize', '--config', config], `http://${http}/readyz`, { ok: true, timeoutMs: 60_000 });
    }
    const takedown = this.writeConfig('takedown', 'takedown.json', worker(p.takedown));
    await this.startDaemon('takedown', ['takedown', 'worker', '--config', takedown], `http://${p.takedown}/readyz`, { ok: true, timeoutMs: 60_000 });
    for (const [i, colo] of this.topology.colos.entries()) {
      const http = p.purgers[i] as string;
      const { kafka } = worker(http);
      const dirs = this.nginx.filter((n) => n.inst.colo === colo.name).map((n) => n.inst.dir);
      const config = this.writeConfig(`purge-${colo.name}`, 'purge.json', { kafka, http: splitAddress(http), ...purgerConfigFor(colo, dirs, CACHE_LEVELS) });
      await this.startDaemon(`purge-${colo.name}`, ['purge', '--config', config], `http://${http}/readyz`, { ok: true, timeoutMs: 60_000 });
    }
    const perceptual = this.writeConfig('perceptual', 'compress.json', worker(p.perceptual));
    await this.startDaemon('perceptual', ['compress', 'resizes', '--config', perceptual], `http://${p.perceptual}/readyz`, { ok: true, timeoutMs: 60_000 });
    const logs = this.nginx.filter((n) => n.inst.role === 'cache').map((n) => n.accessLog);
    await this.startDaemon('cache-logs', mtailArgs(p.cacheLogs, logs), `http://${p.cacheLogs}/metrics`, { exe: 'mtail', timeoutMs: 15_000 });
    const race = this.writeConfig('race', 'race.json', { logs, http: splitAddress(p.race) });
    await this.startDaemon('race', ['race', '--config', race], `http://${p.race}/readyz`, { ok: true });
    // Batch jobs (lossless, scrub) leave their metrics files here for Prometheus.
    mkdirSync(this.textfileDir(), { recursive: true });
    const textfileArgs = [`--web.listen-address=${p.textfiles}`, '--collector.disable-defaults', '--collector.textfile', `--collector.textfile.directory=${this.textfileDir()}`];
    await this.startDaemon('textfiles', textfileArgs, `http://${p.textfiles}/metrics`, { exe: 'prometheus-node-exporter' });
    const dir = join(this.stateDir, 'prometheus');
    const config = this.writeConfig('prometheus', 'prometheus.yml', renderPrometheusConfig({ jobs: scrapeJobsFor(this.topology) }));
    const { listen, retention } = p.prometheus;
    const args = [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--storage.tsdb.retention.time=${retention}`, `--web.listen-address=${listen}`];
    await this.startDaemon('prometheus', args, `http://${listen}/-/ready`, { exe: 'prometheus', ok: true, timeoutMs: 30_000 });
    const dashboard = this.writeConfig('dashboard', 'dashboard.json', { http: splitAddress(p.dashboard), prometheus: `http://${listen}` });
    await this.startDaemon('dashboard', ['dashboard', '--config', dashboard], `http://${p.dashboard}/readyz`, { ok: true, timeoutMs: 15_000 });
  }

  /** The identity tier's blocklist: the topology's, or one in the state directory. */
  blocklistFile(): string {
    return this.topology.pipeline?.blocklist ?? join(this.stateDir, 'identity', 'blocklist.txt');
  }

  /** Writes a daemon's config file under its state directory, readable by its owner only (the warmer's holds HMAC keys); returns its path. */
  private writeConfig(daemon: Daemon, name: string, content: unknown): string {
    const file = join(this.stateDir, daemon, name);
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600); // writeFileSync's mode applies only to a new file
    return file;
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

  private async startWarmer(): Promise<void> {
    const config = this.writeConfig('warmer', 'warmer.json', warmerConfigFor(this.topology));
    await this.startDaemon('warmer', ['warmer', '--config', config], `http://${this.topology.warmer.http}/healthz`);
  }

  private async startOriginService(): Promise<void> {
    const service = this.topology.origin.service;
    if (!service) return;
    const metrics = this.topology.origin.serviceMetrics as string;
    await this.startDaemon('origin', ['origin', '--listen', service, '--metrics-listen', metrics, '--store', storeSpec(this.topology)], `http://${metrics}/healthz`);
  }

  /**
   * The store service, when the topology has one, then `origin.root` imported into it:
   * resumable and verified (copyStore): the first `up` copies, a later one reads each
   * object again and finds it there (a few seconds for the corpus).
   */
  private async startStore(): Promise<void> {
    const store = this.topology.store;
    if (!store) return;
    await this.startDaemon('store', ['store', 'serve', '--listen', store.listen, '--metrics-listen', store.metrics, '--dir', store.dir], `http://${store.metrics}/readyz`, { ok: true, timeoutMs: 120_000 });
    if (!existsSync(this.topology.origin.root)) return;
    const from = openStore(this.topology.origin.root);
    const to = openStore(storeSpec(this.topology));
    try {
      const r = await copyStore({ from, to });
      if (r.conflicts.length) throw new Error(`importing ${this.topology.origin.root} into the store service: ${r.conflicts.length} keys hold other bytes there (first: ${r.conflicts[0]})`);
    } finally {
      await Promise.all([from.close(), to.close()]);
    }
  }

  private async startLatencyProxy(): Promise<void> {
    const delay = this.topology.origin.delay;
    if (!delay) return;
    await this.startDaemon('origin-delay', ['origin-delay', '--listen', delay.listen, '--to', this.topology.origin.listen, '--delay-ms', String(delay.ms)], `http://${delay.listen}/`);
  }

  async down(): Promise<void> {
    // What consumes and watches first, then the warm path, then the broker: the reverse of up.
    for (const d of this.daemons().reverse().filter((x) => !['warmer', 'origin', 'origin-delay', 'store'].includes(x))) await this.stopDaemon(d);
    await this.stopDaemon('warmer');
    // The proxy first, then the caches, then the origin: the reverse of up.
    for (const n of [...this.nginx].reverse()) await n.stop();
    await this.stopDaemon('origin-delay');
    await this.stopDaemon('origin');
    await this.stopDaemon('store');
    await this.kafka?.stop();
  }

  status(): StackStatus {
    const t = this.topology;
    const byName = new Map(this.nginx.map((n) => [n.inst.name, n]));
    const pidOf = (name: string): number | null => byName.get(name)?.pid() ?? null;
    const warmerPid = this.warmerPid() ?? null;
    return {
      stateDir: this.stateDir,
      warmer: { udp: t.warmer.udp, http: t.warmer.http, pid: warmerPid, running: warmerPid !== null },
      proxy: { address: t.proxy.listen, pid: pidOf('proxy'), running: pidOf('proxy') !== null, tls: t.proxy.tls },
      origin: {
        address: t.origin.listen,
        root: t.origin.root,
        pid: pidOf('origin'),
        running: pidOf('origin') !== null,
        service: t.origin.service ? { address: t.origin.service, metrics: t.origin.serviceMetrics as string, running: this.daemonPid('origin') !== undefined } : null,
        delay: t.origin.delay ? { ms: t.origin.delay.ms, address: t.origin.delay.listen, running: this.daemonPid('origin-delay') !== undefined } : null,
      },
      store: t.store ? { address: t.store.listen, metrics: t.store.metrics, dir: t.store.dir, running: this.daemonPid('store') !== undefined } : null,
      colos: t.colos.map((c) => ({
        name: c.name,
        cache: c.nodes,
        host: c.viewerHosts[0] ?? c.host,
        pushHost: c.host,
        cidrs: c.cidrs,
        running: this.nginx.filter((n) => n.inst.colo === c.name).map((n) => n.pid() !== undefined),
      })),
      ...(this.kafka ? { kafka: { address: this.kafka.address, running: this.kafka.pid() !== undefined, pid: this.kafka.pid() ?? null } } : {}),
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
    `${mark(s.warmer.running)} warmer   udp ${s.warmer.udp}  metrics http://${s.warmer.http}/metrics`,
    `${mark(s.proxy.running)} proxy    ${s.proxy.address}${s.proxy.tls ? ' (TLS to caches)' : ''}`,
    ...s.colos.flatMap((c) => c.cache.map((addr, i) => `${mark(c.running[i] ?? false)} cache    ${c.name}  ${addr}  Host: ${c.host} (push: ${c.pushHost})  viewers ${c.cidrs.join(', ') || '-'}`)),
    `${mark(s.origin.running)} origin   ${s.origin.address}  root ${s.origin.root}`,
    ...(s.origin.service ? [`${mark(s.origin.service.running)} origin   ${s.origin.service.address}  service: sizes not stored, made on the fly; metrics http://${s.origin.service.metrics}/metrics`] : []),
    ...(s.kafka ? [`${mark(s.kafka.running)} kafka    ${s.kafka.address}  (KRaft, single node)`] : []),
    ...(s.workers ? [`${worker(s.workers.identity)} identity duplicates, quarantine (blocklist ${s.blocklist ?? '-'})  metrics http://${s.workers.identity.http}/metrics${failing(s.workers.identity)}`] : []),
    ...(s.workers?.resize ?? []).map((w, i) => `${worker(w)} resize   #${i}  metrics http://${w.http}/metrics${failing(w)}`),
    ...(s.workers?.perceptual ?? []).map((w) => `${worker(w)} compress perceptual  metrics http://${w.http}/metrics${failing(w)}`),
    ...(s.workers ? [`${worker(s.workers.takedown)} takedown deletes asked for on hearth.images.delete  metrics http://${s.workers.takedown.http}/metrics${failing(s.workers.takedown)}`] : []),
    ...(s.workers?.purge ?? []).map((w) => `${worker(w)} purge    ${w.colo}: its cache nodes drop what is taken down  metrics http://${w.http}/metrics${failing(w)}`),
    ...(s.cacheLogs ? [`${mark(s.cacheLogs.running)} mtail    http://${s.cacheLogs.address}/metrics  (the caches' access logs as hearth_cache_* metrics)`] : []),
    ...(s.race ? [`${mark(s.race.running)} race     http://${s.race.address}/metrics  (pushes against first views: won, lost)`] : []),
    ...(s.textfiles ? [`${mark(s.textfiles.running)} textfile http://${s.textfiles.address}/metrics  (batch jobs' --metrics-file ${s.textfiles.dir}/<job>.prom)`] : []),
    ...(s.prometheus ? [`${mark(s.prometheus.running)} prom     http://${s.prometheus.address}/  (Prometheus: targets, rules, alerts)`] : []),
    ...(s.dashboard ? [`${mark(s.dashboard.running)} dash     http://${s.dashboard.address}/  (the dashboard)`] : []),
    ...(s.store ? [`${mark(s.store.running)} store    ${s.store.address}  volumes in ${s.store.dir}; metrics http://${s.store.metrics}/metrics`] : []),
    ...(s.origin.delay ? [`${mark(s.origin.delay.running)} delay    ${s.origin.delay.address}  +${s.origin.delay.ms} ms before every origin fetch`] : []),
    `logs: ${s.logs}/nginx/<instance>/logs/access.log (JSON, with cache status and timings), ${s.logs}/warmer/warmer.log`,
  ];
  return `${lines.join('\n')}\n`;
}
