/**
 * The local stack: origin front, regional caches and keep-alive proxy (each its own
 * nginx with its own prefix under the state directory) and the warmer, all from one
 * topology. `up` is idempotent, `down` stops only what `up` started (by the pid files
 * in the state directory), `status` says what runs where.
 */
import { isAlive as alive, livePid, HEARTH_CLI } from '../common/index.js';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaBroker } from '../kafka/index.js';
import { NginxInstance, ensureCerts, renderAll } from '../proxy-config/index.js';
import { parseTopology, splitAddress, warmerConfigFor, type Topology } from '../topology/index.js';

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
  colos: { name: string; cache: string[]; host: string; pushHost: string; cidrs: string[]; running: boolean[] }[];
  kafka?: { address: string; running: boolean; pid: number | null };
  logs: string;
}

const DAEMONS = ['warmer', 'origin-delay', 'origin'] as const;
type Daemon = (typeof DAEMONS)[number];

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
    await this.startOriginService();
    await this.startLatencyProxy();
    for (const n of this.nginx) await n.start();
    await this.startWarmer();
    await this.kafka?.start();
    return this.status();
  }

  private anyRunning(): boolean {
    return DAEMONS.some((d) => this.daemonPid(d) !== undefined) || this.nginx.some((n) => n.pid() !== undefined) || this.kafka?.pid() !== undefined;
  }

  /** Starts `hearth <args>` detached, logging to `<state>/<daemon>/<daemon>.log`, and waits until `ready` answers. */
  private async startDaemon(daemon: Daemon, args: string[], ready: string): Promise<void> {
    if (this.daemonPid(daemon)) return;
    const dir = join(this.stateDir, daemon);
    mkdirSync(dir, { recursive: true });
    const logFile = join(dir, `${daemon}.log`);
    const log = openSync(logFile, 'a');
    const child = spawn(process.execPath, [HEARTH_CLI, ...args], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    writeFileSync(this.pidFile(daemon), String(child.pid));
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) break;
      try {
        await fetch(ready);
        return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${daemon} did not come up; see ${logFile}`);
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
    const config = join(this.stateDir, 'warmer', 'warmer.json');
    mkdirSync(join(config, '..'), { recursive: true });
    writeFileSync(config, JSON.stringify(warmerConfigFor(this.topology), null, 2));
    await this.startDaemon('warmer', ['warmer', '--config', config], `http://${this.topology.warmer.http}/healthz`);
  }

  private async startOriginService(): Promise<void> {
    const service = this.topology.origin.service;
    if (!service) return;
    const metrics = this.topology.origin.serviceMetrics as string;
    await this.startDaemon('origin', ['origin', '--listen', service, '--metrics-listen', metrics, '--store', this.topology.origin.root], `http://${metrics}/healthz`);
  }

  private async startLatencyProxy(): Promise<void> {
    const delay = this.topology.origin.delay;
    if (!delay) return;
    await this.startDaemon('origin-delay', ['origin-delay', '--listen', delay.listen, '--to', this.topology.origin.listen, '--delay-ms', String(delay.ms)], `http://${delay.listen}/`);
  }

  async down(): Promise<void> {
    await this.stopDaemon('warmer');
    // The proxy first, then the caches, then the origin: the reverse of up.
    for (const n of [...this.nginx].reverse()) await n.stop();
    await this.stopDaemon('origin-delay');
    await this.stopDaemon('origin');
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
      colos: t.colos.map((c) => ({
        name: c.name,
        cache: c.nodes,
        host: c.viewerHosts[0] ?? c.host,
        pushHost: c.host,
        cidrs: c.cidrs,
        running: this.nginx.filter((n) => n.inst.colo === c.name).map((n) => n.pid() !== undefined),
      })),
      ...(this.kafka ? { kafka: { address: this.kafka.address, running: this.kafka.pid() !== undefined, pid: this.kafka.pid() ?? null } } : {}),
      logs: this.stateDir,
    };
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
  const comparable = { ...next, ...(running.kafka ? {} : { kafka: undefined }) };
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]) as Set<keyof Topology>;
  return [...keys].filter((k) => JSON.stringify(running[k]) !== JSON.stringify(comparable[k]));
}

export function formatStatus(s: StackStatus): string {
  const mark = (up: boolean): string => (up ? 'up  ' : 'DOWN');
  const lines = [
    `state: ${s.stateDir}`,
    `${mark(s.warmer.running)} warmer   udp ${s.warmer.udp}  metrics http://${s.warmer.http}/metrics`,
    `${mark(s.proxy.running)} proxy    ${s.proxy.address}${s.proxy.tls ? ' (TLS to caches)' : ''}`,
    ...s.colos.flatMap((c) => c.cache.map((addr, i) => `${mark(c.running[i] ?? false)} cache    ${c.name}  ${addr}  Host: ${c.host} (push: ${c.pushHost})  viewers ${c.cidrs.join(', ') || '-'}`)),
    `${mark(s.origin.running)} origin   ${s.origin.address}  root ${s.origin.root}`,
    ...(s.origin.service ? [`${mark(s.origin.service.running)} origin   ${s.origin.service.address}  service: sizes not stored, made on the fly; metrics http://${s.origin.service.metrics}/metrics`] : []),
    ...(s.kafka ? [`${mark(s.kafka.running)} kafka    ${s.kafka.address}  (KRaft, single node)`] : []),
    ...(s.origin.delay ? [`${mark(s.origin.delay.running)} delay    ${s.origin.delay.address}  +${s.origin.delay.ms} ms before every origin fetch`] : []),
    `logs: ${s.logs}/nginx/<instance>/logs/access.log (JSON, with cache status and timings), ${s.logs}/warmer/warmer.log`,
  ];
  return `${lines.join('\n')}\n`;
}
