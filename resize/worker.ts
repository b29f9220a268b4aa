/**
 * The resize tier's worker: consumes hearth.images.uploaded, makes every ladder size
 * from the 2048 px source, writes each atomically and emits hearth.images.resized.
 * Offsets are committed only after the files are durable and the events acknowledged
 * (at-least-once); a redelivery rewrites identical bytes and emits equivalent events.
 * A message that can never succeed (invalid, missing or corrupt source) goes to
 * hearth.images.dead and the partition moves on.
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Partitioners, type Admin, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import { createLogger, type Logger } from '../common/logger.js';
import { createMetrics, createRegistry, type Metrics } from '../common/metrics.js';
import { closeServer, listen } from '../common/http-util.js';
import { createStatusServer } from '../common/status-server.js';
import { imagePath, storeFile, writeAtomic } from '../common/store.js';
import { TOPICS, createKafka, ensureTopics } from '../kafka/client.js';
import { uploadedValidator, type DeadLetter, type Resized, type Uploaded } from '../kafka/messages.js';
import { CorruptImageError, type ResizeBackend } from './backend.js';
import type { ResizeConfig } from './config.js';
import { CpuBackend } from './cpu-backend.js';
import { DEFAULT_LADDER, sourceSize, type SizeSpec } from './ladder.js';
import { RESIZE_METRICS, type ResizeFailure } from './metrics.js';

class PermanentFailure extends Error {
  constructor(
    readonly reason: ResizeFailure,
    message: string,
  ) {
    super(message);
  }
}

export class ResizeWorker {
  readonly metrics: Metrics<typeof RESIZE_METRICS>;
  private readonly log: Logger;
  private readonly backend: ResizeBackend;
  private readonly ladder: readonly SizeSpec[];
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly registry = createRegistry();
  private server: Server | undefined;
  private lagTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly config: ResizeConfig,
    opts: { logger?: Logger; backend?: ResizeBackend; ladder?: readonly SizeSpec[] } = {},
  ) {
    this.log = opts.logger ?? createLogger('resize', config.log.level);
    this.metrics = createMetrics(RESIZE_METRICS, this.registry);
    this.backend = opts.backend ?? new CpuBackend(config.threadsPerJob);
    this.ladder = opts.ladder ?? DEFAULT_LADDER;
    const kafka = createKafka(config.kafka.brokers, 'hearth-resize', this.log);
    this.consumer = kafka.consumer({ groupId: config.kafka.groupId, sessionTimeout: config.kafka.sessionTimeoutMs, heartbeatInterval: Math.floor(config.kafka.sessionTimeoutMs / 10) });
    // Idempotent: a producer retry never writes an event twice (and must not give up
    // early, or the guarantee goes). Keys are image ids, so one image stays on one partition.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 } });
    this.admin = kafka.admin();
  }

  async start(): Promise<AddressInfo> {
    await this.admin.connect();
    const p = this.config.kafka.partitions;
    await ensureTopics(this.admin, { [TOPICS.uploaded]: p, [TOPICS.resized]: p, [TOPICS.dead]: 1 });
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: TOPICS.uploaded, fromBeginning: true });
    this.server = createStatusServer(this.registry, { refresh: () => {}, health: () => ({ backend: this.backend.name }) });
    await listen(this.server, this.config.http.port, this.config.http.host);
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.config.jobs,
      eachMessage: async ({ topic, partition, message }) => {
        await this.handle(topic, partition, message);
        await this.consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
    this.lagTimer = setInterval(() => void this.updateLag(), 5000);
    this.lagTimer.unref();
    const address = this.server.address() as AddressInfo;
    this.log.info({ brokers: this.config.kafka.brokers, store: this.config.store, jobs: this.config.jobs, threadsPerJob: this.config.threadsPerJob, http: `${address.address}:${address.port}` }, 'resize worker running');
    return address;
  }

  private async handle(topic: string, partition: number, message: KafkaMessage): Promise<void> {
    try {
      const upload = this.parse(message);
      const events = await this.resizeAll(upload);
      await this.producer.send({ topic: TOPICS.resized, messages: events.map((e) => ({ key: e.id, value: JSON.stringify(e) })) });
      this.metrics.images.inc();
    } catch (err) {
      if (!(err instanceof PermanentFailure)) throw err; // kafkajs retries; the offset is not committed
      this.metrics.failures.labels(err.reason).inc();
      this.log.warn({ topic, partition, offset: message.offset, reason: err.reason, err: err.message }, 'upload sent to the dead-letter topic');
      const dead: DeadLetter = {
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString('utf8').slice(0, 64) ?? null,
        reason: err.reason,
        error: err.message.slice(0, 500),
        value: (message.value ?? Buffer.alloc(0)).subarray(0, 4096).toString('base64'),
        ts: Date.now(),
      };
      await this.producer.send({ topic: TOPICS.dead, messages: [{ key: dead.key, value: JSON.stringify(dead) }] });
    }
  }

  private parse(message: KafkaMessage): Uploaded {
    let value: unknown;
    try {
      value = JSON.parse(message.value?.toString('utf8') ?? '');
    } catch {
      throw new PermanentFailure('invalid_message', 'not JSON');
    }
    if (!uploadedValidator.is(value)) throw new PermanentFailure('invalid_message', uploadedValidator.problems(value).join('; '));
    return value;
  }

  /** Every size, from the 2048 px source made from the original. */
  async resizeAll(upload: Uploaded): Promise<Resized[]> {
    let original: Buffer;
    try {
      original = await readFile(storeFile(this.config.store, upload.source));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT' || code === 'EISDIR' || err instanceof RangeError) throw new PermanentFailure('missing_source', `${upload.source}: ${code ?? (err as Error).message}`);
      throw err;
    }
    const src = sourceSize(this.ladder);
    const events: Resized[] = [];
    const encode = this.config.jpeg;
    try {
      const t0 = process.hrtime.bigint();
      const source = await this.backend.resize(original, src, encode);
      events.push(await this.store(upload.id, src, source.data, source.width, source.height, t0));
      for (const spec of this.ladder) {
        if (spec === src) continue;
        const t = process.hrtime.bigint();
        const out = await this.backend.resize(source.data, spec, encode);
        events.push(await this.store(upload.id, spec, out.data, out.width, out.height, t));
      }
    } catch (err) {
      if (err instanceof CorruptImageError) throw new PermanentFailure('corrupt_source', err.message);
      throw err;
    }
    return events;
  }

  private async store(id: string, spec: SizeSpec, data: Buffer, width: number, height: number, t0: bigint): Promise<Resized> {
    const path = imagePath(id, spec.name);
    await writeAtomic(storeFile(this.config.store, path), data);
    this.metrics.duration.labels(spec.name).observe(Number(process.hrtime.bigint() - t0) / 1e9);
    this.metrics.sizes.labels(spec.name).inc();
    return { id, size: spec.name, path, bytes: data.length, width, height };
  }

  private async updateLag(): Promise<void> {
    try {
      const [ends, committed] = await Promise.all([
        this.admin.fetchTopicOffsets(TOPICS.uploaded),
        this.admin.fetchOffsets({ groupId: this.config.kafka.groupId, topics: [TOPICS.uploaded] }),
      ]);
      const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset === '-1' ? '0' : p.offset)]));
      for (const e of ends) this.metrics.lag.labels(String(e.partition)).set(Number(BigInt(e.high) - (done.get(e.partition) ?? 0n)));
    } catch (err) {
      this.log.debug({ err }, 'lag unavailable');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.lagTimer);
    await this.consumer.disconnect();
    await this.producer.disconnect();
    await this.admin.disconnect();
    if (this.server) await closeServer(this.server);
  }
}
