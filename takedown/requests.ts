/**
 * The takedown worker: deletes that other systems ask for. A site's moderation tool, a
 * legal-takedown queue or an account deletion puts `{"id","by"}` on hearth.images.delete
 * (keyed by id); this worker carries each out exactly as `hearth delete` does (verdict,
 * every object, then the takedown on hearth.images.takedown) and commits the request only
 * after the takedown is acknowledged, so a request is never lost and a repeat is harmless.
 */
import type { AddressInfo } from 'node:net';
import { createLogger, createMetrics, createRegistry, type Logger, type Metrics } from '../common/index.js';
import { deletePhoto, readSecrets } from '../image/index.js';
import { KafkaWorker, TOPICS, deleteRequestValidator, outgoing, parseMessage, type Outgoing } from '../kafka/index.js';
import { openStore, type ObjectStore } from '../store/index.js';
import type { TakedownWorkerConfig } from './config.js';
import { deleteTakedown } from './delete.js';
import { TAKEDOWN_WORKER_METRICS } from './metrics.js';

export class TakedownWorker {
  readonly metrics: Metrics<typeof TAKEDOWN_WORKER_METRICS>;
  private readonly registry = createRegistry();
  private readonly log: Logger;
  private readonly store: ObjectStore;
  private readonly worker: KafkaWorker<typeof TOPICS.deleteRequests>;

  constructor(
    readonly config: TakedownWorkerConfig,
    opts: { logger?: Logger } = {},
  ) {
    this.log = opts.logger ?? createLogger('takedown', config.log.level);
    this.metrics = createMetrics(TAKEDOWN_WORKER_METRICS, this.registry);
    for (const o of ['deleted', 'repeat']) this.metrics.requests.labels(o).inc(0);
    this.store = openStore(config.store);
    const p = config.kafka.partitions;
    this.worker = new KafkaWorker({
      kafka: config.kafka,
      clientId: 'hearth-takedown',
      registry: this.registry,
      topic: TOPICS.deleteRequests,
      topics: { [TOPICS.deleteRequests]: p, [TOPICS.takedown]: p },
      jobs: 4,
      log: this.log,
      handle: (message) => this.carryOut(parseMessage(message, deleteRequestValidator)),
      deadLetters: this.metrics.failures,
    });
  }

  async start(): Promise<AddressInfo> {
    const address = await this.worker.serve({ http: this.config.http, store: this.store });
    this.log.info({ brokers: this.config.kafka.brokers, store: this.config.store, http: `${address.address}:${address.port}` }, 'takedown worker running');
    return address;
  }

  private async carryOut(r: { id: string; by: string }): Promise<Outgoing[]> {
    const outcome = await deletePhoto(this.store, r.id, r.by);
    this.metrics.requests.labels(outcome.first ? 'deleted' : 'repeat').inc();
    this.log.info({ id: r.id, by: r.by, removed: outcome.removed.length, first: outcome.first }, 'photo deleted on request');
    return [outgoing(TOPICS.takedown, r.id, deleteTakedown(r.id, r.by, await readSecrets(this.store, r.id)))];
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    await this.store.close();
  }
}
