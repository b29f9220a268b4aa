/**
 * The warmer daemon: UDP ingest → validate → filter (stale, duplicate, forbidden) →
 * route → push, with its HTTP side for `/metrics`, `/healthz` and `/readyz`.
 */
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Server } from 'node:http';
import type { Counter, Registry } from 'prom-client';
import {
  CounterMirror,
  LogSampler,
  createLogger,
  type Logger,
  Tally,
  createMetrics,
  createRegistry,
  type Metrics,
  closeServer,
  listen,
  createStatusServer,
  readiness,
} from '../common/index.js';
import type { HintSocket } from './hint-socket.js';
import { ColoRouter, type Colo } from './colo-router.js';
import { perColoConcurrency, type WarmerConfig } from './config.js';
import { Dedup } from './dedup.js';
import { DEFAULT_FORMAT_CLASS } from '@hearth/api-hook';
import { parseHint } from './hint.js';
import { DROP_REASONS, WARMER_METRICS, type DropReason } from './metrics.js';
import { PathPolicy } from './path-policy.js';
import { PushScheduler, type PushJob } from './push-scheduler.js';
import { TakedownFeed } from './takedown-feed.js';
import type { PushReport } from './push-client.js';
import { createTransport, type Transport } from './transport.js';
import { SignatureVerifier } from './signature.js';

export interface WarmerOptions {
  /** Epoch-millisecond clock for hint ages, dedup TTLs and push deadlines (default Date.now). */
  now?: () => number;
  logger?: Logger;
  registry?: Registry;
}

export interface WarmerAddresses {
  udp: AddressInfo;
  http: AddressInfo;
}

/** Drops that say something about the sender's honesty are worth a warning; the rest are routine. */
const WARN_REASONS: ReadonlySet<DropReason> = new Set(['signature', 'forbidden']);

type Tallies = Record<DropReason, Tally>;
type Observer = { observe(v: number): void };
type ClientCounters = Record<'connects' | 'connectFailures' | 'retries', CounterMirror>;

export class Warmer {
  readonly registry: Registry;
  readonly metrics: Metrics<typeof WARMER_METRICS>;
  private readonly log: Logger;
  private readonly sampler: LogSampler;
  private readonly now: () => number;
  private readonly router: ColoRouter;
  private readonly policy: PathPolicy;
  private readonly verifier: SignatureVerifier;
  private readonly dedup: Dedup;
  private readonly transport: Transport;
  private readonly scheduler: PushScheduler;
  private readonly tallies: Tally[] = [];
  private readonly datagrams: Tally;
  private readonly pathsReceived: Tally;
  private readonly dgDropped: Tallies;
  private readonly pathDropped: Tallies;
  /** By colo index. */
  private readonly enqueued: Tally[];
  /** By colo index, then outcome. */
  private readonly pushTallies: Map<string, Tally>[];
  /** The push client's own counts by colo index, mirrored at scrape time. */
  private readonly clientCounters: ClientCounters[];
  /** Push duration histograms by colo index, resolved once. */
  private readonly pushDurations: Observer[];
  private readonly takedowns: TakedownFeed | undefined;
  private hints: HintSocket | undefined;
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly config: WarmerConfig,
    opts: WarmerOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? createLogger('warmer', config.log.level);
    this.sampler = new LogSampler(config.log.samplePerSecond);
    this.registry = opts.registry ?? createRegistry();
    this.metrics = createMetrics(WARMER_METRICS, this.registry);
    // Per-datagram counts are plain numbers, handed to prom-client at scrape time.
    const tally = (target: { inc(n: number): void }): Tally => {
      const t = new Tally(target);
      this.tallies.push(t);
      return t;
    };
    const byReason = (c: Counter<string>): Tallies => Object.fromEntries(DROP_REASONS.map((r) => [r, tally(c.labels(r))])) as Tallies;
    this.datagrams = tally(this.metrics.datagrams);
    this.pathsReceived = tally(this.metrics.paths);
    this.dgDropped = byReason(this.metrics.datagramsDropped);
    this.pathDropped = byReason(this.metrics.pathsDropped);
    // Every reason's series from the start: a rate or an increase over one born with its first drop reads nothing.
    for (const r of DROP_REASONS) this.metrics.pathsDropped.labels(r).inc(0);
    this.router = new ColoRouter(config.colos, config.defaultColo);
    this.enqueued = this.router.colos.map((c) => tally(this.metrics.enqueued.labels(c.name)));
    this.pushDurations = this.router.colos.map((c) => this.metrics.pushDuration.labels(c.name));
    this.pushTallies = this.router.colos.map(() => new Map<string, Tally>());
    this.clientCounters = this.router.colos.map((c) => ({
      connects: new CounterMirror(this.metrics.connects.labels(c.name)),
      connectFailures: new CounterMirror(this.metrics.connectFailures.labels(c.name)),
      retries: new CounterMirror(this.metrics.retries.labels(c.name)),
    }));
    for (const colo of this.router.colos) this.metrics.breakerOpen.labels(colo.name).set(0);
    this.policy = new PathPolicy(config.allowPaths);
    this.verifier = new SignatureVerifier(config.keys);
    this.dedup = new Dedup({ max: config.dedup.max, ttlMs: config.dedup.ttlMs, now: this.now });
    this.takedowns = config.quarantine.brokers.length > 0 ? new TakedownFeed({ brokers: config.quarantine.brokers, log: this.log }) : undefined;
    this.transport = createTransport(config, this.router.colos);
    this.metrics.pushClient.labels(this.transport.pushes.kind).set(1);
    this.scheduler = new PushScheduler({
      colos: this.router.colos,
      concurrency: config.push.concurrency,
      perColoConcurrency: perColoConcurrency(config),
      queueMax: config.push.queueMax,
      breakerFailures: config.push.breakerFailures,
      breakerCooldownMs: config.push.breakerCooldownMs,
      now: this.now,
      run: (job, done) => this.transport.pushes.push(job.colo.index, job.colo.host, job.path, job.format, done),
      // Asked again at dispatch: a takedown that arrived while the push was queued wins.
      blocked: (job) => this.takedowns?.blocks(job.path),
      onSettled: (job, result) => this.settled(job, result as PushReport),
      onDropped: (job, reason) => {
        this.dedup.release(job.colo.name, job.path, job.format);
        this.dropPath(reason, job.colo.name, job.path);
      },
      onBreaker: (colo, open) => {
        this.metrics.breakerOpen.labels(colo.name).set(open ? 1 : 0);
        this.log[open ? 'warn' : 'info']({ colo: colo.name }, open ? 'colo circuit breaker open' : 'colo circuit breaker closed');
      },
    });
  }

  async start(): Promise<WarmerAddresses> {
    const { udp, http } = this.config;
    await this.transport.open();
    const hints = this.transport.hints;
    const bound = await hints.listen({
      host: udp.host,
      port: udp.port,
      recvBufferBytes: udp.recvBufferBytes,
      keys: this.verifier.secrets,
      onDatagram: (msg, signedBy) => this.handleDatagram(msg, signedBy),
      onError: (err) => this.log.error({ err }, 'udp socket error'),
    });
    this.hints = hints;
    this.server = createStatusServer(this.registry, {
      refresh: () => this.refreshMetrics(),
      health: () => ({
        queueDepth: this.scheduler.depth,
        inFlight: this.scheduler.inFlight,
        stopping: this.stopping !== undefined,
        ...(this.takedowns ? { takedowns: { quarantined: this.takedowns.size, deleted: this.takedowns.deletedCount, current: this.takedowns.current } } : {}),
      }),
      // Taking hints once the socket is bound; a stopping warmer takes no more.
      ready: () => readiness({ udp: this.hints !== undefined || 'not bound', stopping: this.stopping === undefined || 'stopping' }),
    });
    await listen(this.server, http.port, http.host);
    this.takedowns?.start();
    const addresses = {
      udp: { address: bound.address, port: bound.port, family: isIP(bound.address) === 6 ? 'IPv6' : 'IPv4' },
      http: this.server.address() as AddressInfo,
    };
    const recvBuffer = bound.recvBuffer;
    this.log.info(
      {
        udp: `${addresses.udp.address}:${addresses.udp.port}`,
        http: `${addresses.http.address}:${addresses.http.port}`,
        recvBuffer,
        proxy: this.config.proxy,
        pushClient: this.transport.pushes.kind,
        hintSocket: hints.kind,
        colos: this.router.colos.map((c) => c.name),
      },
      'warmer listening',
    );
    if (recvBuffer < udp.recvBufferBytes) {
      this.log.warn({ asked: udp.recvBufferBytes, got: recvBuffer }, 'UDP receive buffer smaller than configured; raise net.core.rmem_max');
    }
    return addresses;
  }

  /** Brings tallies and scrape-time gauges up to date; runs before each scrape. */
  private refreshMetrics(): void {
    for (const t of this.tallies) t.flush();
    this.metrics.queueDepth.set(this.scheduler.depth);
    this.metrics.dedupEntries.set(this.dedup.size);
    this.metrics.quarantined.set(this.takedowns?.size ?? 0);
    this.metrics.deleted.set(this.takedowns?.deletedCount ?? 0);
    this.metrics.quarantineCurrent.set(this.takedowns && !this.takedowns.current ? 0 : 1);
    for (const colo of this.router.colos) {
      this.metrics.inFlight.labels(colo.name).set(this.scheduler.inFlightFor(colo));
      this.metrics.breakerOpen.labels(colo.name).set(this.scheduler.isOpen(colo) ? 1 : 0);
      this.metrics.connections.labels(colo.name).set(this.transport.pushes.connections(colo.index));
      const c = this.transport.pushes.counters(colo.index);
      const m = this.clientCounters[colo.index] as ClientCounters;
      m.connects.set(c.connects);
      m.connectFailures.set(c.connectFailures);
      m.retries.set(c.retries);
    }
  }

  /** One datagram in; never throws. */
  handleDatagram(buf: Buffer, signedBy?: number): void {
    try {
      this.ingest(buf, signedBy);
    } catch (err) {
      // A bug must cost one hint, not the daemon.
      this.dgDropped.invalid.add();
      if (this.sampler.admit('internal') !== undefined) this.log.error({ err }, 'hint handling failed');
    }
  }

  private ingest(buf: Buffer, signedBy: number | undefined): void {
    this.datagrams.add();
    const hint = parseHint(buf);
    if (!hint) return this.dropDatagram('invalid', 0, { bytes: buf.length });
    const n = hint.paths.length;
    this.pathsReceived.add(n);
    if (this.verifier.required) {
      const verdict = this.verifier.verify(buf, hint.kid, hint.sig, signedBy);
      if (verdict !== 'ok') return this.dropDatagram('signature', n, { verdict, kid: hint.kid });
    }
    const now = this.now();
    const age = now - hint.ts;
    if (age > this.config.ttlMs) return this.dropDatagram('stale', n, { ageMs: age });
    if (-age > this.config.futureMs) return this.dropDatagram('future', n, { aheadMs: -age });
    this.metrics.hintAge.observe(age > 0 ? age / 1000 : 0);

    let colo: Colo | null | undefined;
    if ('colo' in hint) colo = this.router.byColoName(hint.colo);
    else {
      colo = this.router.route(hint.viewer);
      if (colo === null) return this.dropDatagram('invalid', n, { field: 'viewer' });
    }
    if (!colo) return this.dropDatagram('no_colo', n, {});

    const deadline = hint.ts + this.config.push.deadlineMs;
    // A hint without a class is a v1 sender's (or a JPEG viewer's): the JPEG.
    const format = hint.fmt ?? DEFAULT_FORMAT_CLASS;
    const refused = this.scheduler.refusal(colo);
    for (const path of hint.paths) {
      if (!this.policy.allows(path)) {
        this.dropPath('forbidden', colo.name);
        continue;
      }
      const blocked = this.takedowns?.blocks(path);
      if (blocked) {
        this.dropPath(blocked, colo.name, path);
        continue;
      }
      if (refused) {
        this.dropPath(refused, colo.name, path);
        continue;
      }
      if (!this.dedup.claim(colo.name, path, format)) {
        this.pathDropped.duplicate.add();
        continue;
      }
      const verdict = this.scheduler.enqueue(colo, path, deadline, format);
      if (verdict === 'queued') this.enqueued[colo.index]?.add();
      else {
        this.dedup.release(colo.name, path, format);
        this.dropPath(verdict, colo.name, path);
      }
    }
  }

  private dropDatagram(reason: DropReason, paths: number, fields: Record<string, unknown>): void {
    this.dgDropped[reason].add();
    if (paths > 0) this.pathDropped[reason].add(paths);
    const level = WARN_REASONS.has(reason) ? 'warn' : 'debug';
    if (!this.log.isLevelEnabled(level)) return;
    const suppressed = this.sampler.admit(reason);
    if (suppressed !== undefined) this.log[level]({ reason, paths, suppressed, ...fields }, 'hint dropped');
  }

  /** `path` is logged only once it passed the path policy, so a log line never carries raw datagram text. */
  private dropPath(reason: DropReason, colo: string, path?: string): void {
    this.pathDropped[reason].add();
    const level = WARN_REASONS.has(reason) ? 'warn' : 'debug';
    if (!this.log.isLevelEnabled(level)) return;
    const suppressed = this.sampler.admit(reason);
    if (suppressed !== undefined) this.log[level]({ reason, colo, path, suppressed }, 'path dropped');
  }

  /** The push counter of (colo, outcome), made once: `labels()` hashes its labels on every call. */
  private pushTally(colo: Colo, outcome: string): Tally {
    const byOutcome = this.pushTallies[colo.index] as Map<string, Tally>;
    let t = byOutcome.get(outcome);
    if (!t) {
      t = new Tally(this.metrics.pushes.labels(colo.name, outcome));
      this.tallies.push(t);
      byOutcome.set(outcome, t);
    }
    return t;
  }

  private settled(job: PushJob, r: PushReport): void {
    this.pushTally(job.colo, r.outcome).add();
    (this.pushDurations[job.colo.index] as Observer).observe(r.seconds);
    if (!r.ok) {
      // Not warmed: forget it so a later hint may try again.
      this.dedup.release(job.colo.name, job.path, job.format);
      const suppressed = this.sampler.admit(`push_${r.outcome}`);
      if (suppressed !== undefined) {
        this.log.warn(
          { colo: job.colo.name, path: job.path, format: job.format, outcome: r.outcome, status: r.status, cache: r.cache, code: r.errorCode, suppressed },
          'push failed',
        );
      }
    }
  }

  /** Graceful: stop ingest, let pushes in flight finish within shutdownGraceMs, close pools. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const hints = this.hints;
    this.hints = undefined;
    await hints?.close();
    await this.takedowns?.stop();
    const { abandoned } = await this.scheduler.close(this.config.shutdownGraceMs);
    if (abandoned > 0) {
      this.log.warn({ abandoned }, 'pushes still in flight at the end of the grace period; abandoning them');
      await this.transport.destroy();
    } else {
      await this.transport.close();
    }
    if (this.server) await closeServer(this.server);
    this.log.info('warmer stopped');
  }
}
