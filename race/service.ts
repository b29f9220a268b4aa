/**
 * `hearth race`: follows every cache node's access log, joins pushes with first views
 * (join.ts) and serves the outcome as metrics, with the common daemon shape.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, createLogger, createMetrics, createRegistry, createStatusServer, listen, readiness, type Logger, type Metrics } from '../common/index.js';
import { parseCacheLogLine } from '../topology/index.js';
import type { RaceConfig } from './config.js';
import { LogFollower } from './follow.js';
import { RACE_OUTCOMES, RaceJoin } from './join.js';
import { RACE_METRICS } from './metrics.js';
import { FORMAT_CLASSES } from '@hearth/api-hook';

export class RaceService {
  readonly metrics: Metrics<typeof RACE_METRICS>;
  private readonly registry = createRegistry();
  private readonly log: Logger;
  private readonly join: RaceJoin;
  private readonly followers: LogFollower[];
  private server: Server | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  /** Colos seen in the logs so far (a config names logs, not colos). */
  private readonly colos = new Set<string>();

  constructor(
    readonly config: RaceConfig,
    opts: { logger?: Logger } = {},
  ) {
    this.log = opts.logger ?? createLogger('race', config.log.level);
    const m = (this.metrics = createMetrics(RACE_METRICS, this.registry));
    for (const r of ['joined', 'ignored', 'malformed']) m.lines.labels(r).inc(0);
    for (const s of ['pushed', 'viewed', 'decided']) m.evicted.labels(s).inc(0);
    this.join = new RaceJoin(
      { maxTracked: config.maxTrackedPaths, viewWindowMs: config.viewWindowS * 1000, viewerWaitMs: config.viewerWaitS * 1000 },
      {
        firstView: ({ colo, format }, outcome, gap, took) => {
          m.firstViews.labels(colo, format, outcome).inc();
          if (gap >= 0) m.pushToView.labels(colo).observe(gap);
          else m.pushLate.labels(colo).observe(-gap);
          if (outcome === 'in_flight') m.inFlightWait.labels(colo).observe(took);
        },
        unviewed: ({ colo, format }) => m.unviewed.labels(colo, format).inc(),
        evicted: (state) => m.evicted.labels(state).inc(),
      },
    );
    let malformedLogged = 0;
    this.followers = config.logs.map(
      (file) =>
        new LogFollower(file, {
          fromStart: config.fromStart,
          pollMs: config.pollMs,
          onLine: (line) => {
            const l = parseCacheLogLine(line);
            if (typeof l === 'string') {
              m.lines.labels('malformed').inc();
              // The first few say what is wrong; the counter says how often.
              if (malformedLogged++ < 5) this.log.warn({ file, why: l, line: line.slice(0, 200) }, 'not a cache node access log line');
              return;
            }
            if (!this.colos.has(l.colo)) this.firstSeen(l.colo);
            m.lines.labels(this.join.add(l) ? 'joined' : 'ignored').inc();
          },
          onError: (err) => {
            m.readErrors.inc();
            this.log.warn({ file, err }, 'cannot follow log; retrying');
          },
        }),
    );
  }

  /** A colo's series from its first line on, at 0: a rate over a series born with its first count reads 0. */
  private firstSeen(colo: string): void {
    this.colos.add(colo);
    const m = this.metrics;
    for (const f of FORMAT_CLASSES) {
      for (const o of RACE_OUTCOMES) m.firstViews.labels(colo, f, o).inc(0);
      m.unviewed.labels(colo, f).inc(0);
    }
    m.inFlightWait.zero({ colo });
    m.pushToView.zero({ colo });
    m.pushLate.zero({ colo });
  }

  async start(): Promise<AddressInfo> {
    this.server = createStatusServer(this.registry, {
      refresh: () => this.metrics.tracked.set(this.join.size),
      health: () => ({ trackedPaths: this.join.size }),
      ready: () => readiness(Object.fromEntries(this.followers.map((f) => [f.file, f.following || 'not there yet (waiting for it)']))),
    });
    await listen(this.server, this.config.http.port, this.config.http.host);
    for (const f of this.followers) f.start();
    // Unviewed pushes are counted when they expire, not only when touched again.
    this.purgeTimer = setInterval(() => this.join.purge(), 1000);
    this.log.info({ logs: this.config.logs.length, http: this.server.address() }, 'race join started');
    return this.server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    clearInterval(this.purgeTimer);
    for (const f of this.followers) f.stop();
    if (this.server) await closeServer(this.server);
  }
}
