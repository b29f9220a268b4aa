/**
 * The purger, one per cache host: follows hearth.images.takedown and removes every path
 * of each photo taken down from the cache of every node of its colos on this host. A
 * node's cache entry is a file named for the MD5 of its key (`$uri` and the format class:
 * `cacheKeys` of image/formats.ts, one per class) under the node's `levels`; nginx takes a missing file for a miss and fetches again. Debian's
 * nginx cache purge module (libnginx-mod-http-cache-purge 2.3) was the first choice: it
 * crashes the worker on every purge with nginx 1.22 (FRiCKLE 2.3 and nginx ≥ 1.11.6), so
 * the purge is the file's removal, done where the file is.
 *
 * Each colo has consumer groups of its own, so a colo whose host was away catches up
 * from its committed offset when it is back, and holds up no other colo.
 *
 * Two passes per colo, each its own consumer group: the first at once; the second
 * `repurgeAfterMs` after the takedown, for a fetch from the origin that was in flight at
 * the takedown and stores the photo when it ends, after the first pass. Nothing that
 * began after the takedown can bring the photo back: the store holds none of it and the
 * origin answers 410 (or 451), which no cache keeps.
 *
 * Each pass of each colo is announced on hearth.images.purged, for the audit.
 */
import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { closeServer, createLogger, createMetrics, createRegistry, createStatusServer, listen, readiness, type Logger, type Metrics } from '../common/index.js';
import { cacheKeys, servedPaths } from '../image/index.js';
import { KafkaWorker, TOPICS, outgoing, parseMessage, takedownValidator, type Outgoing, type Takedown } from '../kafka/index.js';
import type { PurgerConfig } from './config.js';
import { PURGER_METRICS, PURGE_OUTCOMES } from './metrics.js';

type Colo = PurgerConfig['colos'][number];
type Node = Colo['nodes'][number];

/**
 * Where nginx keeps the cache entry of `key` under `levels`: the key's MD5 in hex, in
 * directories named by its last characters, the last level first (`1:2`: `c/29/…29c`).
 */
export function cacheFile(cacheDir: string, levels: string, key: string): string {
  const md5 = createHash('md5').update(key).digest('hex');
  let end = md5.length;
  const dirs = levels.split(':').map((n) => {
    const d = md5.slice(end - Number(n), end);
    end -= Number(n);
    return d;
  });
  return join(cacheDir, ...dirs, md5);
}

/** A node whose cache could not be purged (its disk): always worth another try (the KafkaWorker retries it without limit). */
class PurgeFailed extends Error {
  readonly retriable = true;
}

export class Purger {
  readonly metrics: Metrics<typeof PURGER_METRICS>;
  readonly registry = createRegistry();
  private readonly log: Logger;
  private readonly workers: { colo: string; pass: 1 | 2; worker: KafkaWorker<typeof TOPICS.takedown> }[] = [];
  private server: Server | undefined;

  constructor(
    readonly config: PurgerConfig,
    opts: { logger?: Logger } = {},
  ) {
    this.log = opts.logger ?? createLogger('purge', config.log.level);
    this.metrics = createMetrics(PURGER_METRICS, this.registry);
    const passes: (1 | 2)[] = config.repurgeAfterMs > 0 ? [1, 2] : [1];
    for (const colo of config.colos) {
      for (const action of ['delete', 'quarantine', 'refresh']) this.metrics.takedowns.labels(colo.name, action).inc(0);
      for (const pass of passes) {
        for (const outcome of PURGE_OUTCOMES) this.metrics.purges.labels(colo.name, String(pass), outcome).inc(0);
        this.metrics.delay.zero({ colo: colo.name, pass: String(pass) });
        const groupId = `${config.kafka.groupId}-${colo.name}${pass === 2 ? '-final' : ''}`;
        this.workers.push({
          colo: colo.name,
          pass,
          worker: new KafkaWorker({
            kafka: { ...config.kafka, groupId },
            clientId: `hearth-purge-${colo.name}`,
            registry: this.registry,
            topic: TOPICS.takedown,
            topics: { [TOPICS.takedown]: config.kafka.partitions, [TOPICS.purged]: config.kafka.partitions },
            // Every partition at once: a takedown waits behind none on another partition.
            jobs: config.kafka.partitions,
            log: this.log.child({ colo: colo.name, pass }),
            handle: (message) => this.pass(colo, pass, parseMessage(message, takedownValidator)),
            deadLetters: this.metrics.failures,
            ...(pass === 2 ? { notBefore: (m) => takedownTs(m) + config.repurgeAfterMs } : {}),
          }),
        });
      }
    }
  }

  async start(): Promise<AddressInfo> {
    this.server = createStatusServer(this.registry, {
      refresh: () => {},
      health: () => ({ colos: this.config.colos.map((c) => c.name) }),
      problems: () => this.workers.flatMap((w) => w.worker.problems().map((p) => `${w.colo} pass ${w.pass}: ${p}`)),
      ready: () => readiness(Object.fromEntries(this.workers.map((w) => [`${w.colo}/${w.pass}`, w.worker.inGroup || 'not in its consumer group yet']))),
    });
    await listen(this.server, this.config.http.port, this.config.http.host);
    // One after the other: the first creates the topics, which concurrent creators would race on.
    for (const w of this.workers) await w.worker.start();
    const a = this.server.address() as AddressInfo;
    this.log.info(
      {
        colos: this.config.colos.map((c) => `${c.name}: ${c.nodes.map((n) => n.name).join(' ')}`),
        repurgeAfterMs: this.config.repurgeAfterMs,
        http: `${a.address}:${a.port}`,
      },
      'purger running',
    );
    return a;
  }

  /** One pass of one colo over one takedown: every path on every node, then its record. */
  private async pass(colo: Colo, pass: 1 | 2, t: Takedown): Promise<Outgoing[]> {
    if (pass === 1) this.metrics.takedowns.labels(colo.name, t.action).inc();
    const keys = servedPaths(t.id, t.secrets).flatMap(cacheKeys);
    let cached: number;
    try {
      const found = await Promise.all(colo.nodes.flatMap((node) => keys.map((k) => this.purgeOne(colo, node, k))));
      cached = found.filter(Boolean).length;
    } catch (err) {
      this.metrics.purges.labels(colo.name, String(pass), 'failed').inc();
      throw err;
    }
    const now = Date.now();
    this.metrics.purges.labels(colo.name, String(pass), cached > 0 ? 'cached' : 'absent').inc();
    this.metrics.delay.labels(colo.name, String(pass)).observe(Math.max(0, now - t.ts) / 1000);
    this.log.info({ id: t.id, action: t.action, pass, cached, ms: now - t.ts }, 'purged');
    return [outgoing(TOPICS.purged, t.id, { id: t.id, colo: colo.name, pass, nodes: colo.nodes.length, cached, ts: now, takedownTs: t.ts })];
  }

  /** Whether `key` was cached on `node` (and is not now). */
  private async purgeOne(colo: Colo, node: Node, key: string): Promise<boolean> {
    const t0 = process.hrtime.bigint();
    try {
      await unlink(cacheFile(node.cacheDir, node.levels, key));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new PurgeFailed(`${colo.name} ${node.name}: purge of ${key} failed: ${(err as Error).message}`);
    } finally {
      this.metrics.requests.labels(colo.name).observe(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.stop()));
    if (this.server) await closeServer(this.server);
  }
}

/** A takedown's time from its message (the record's own time when it does not parse: the handler then dead-letters it). */
function takedownTs(m: { value: Buffer | null; timestamp: string }): number {
  try {
    const v: unknown = JSON.parse(m.value?.toString('utf8') ?? '');
    if (takedownValidator.is(v)) return v.ts;
  } catch {
    // falls through
  }
  return Number(m.timestamp);
}
