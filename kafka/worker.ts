/**
 * What every Hearth consumer does the same way: create its topics, consume, and commit
 * an offset only after the handler's work is durable and the messages it asked for are
 * acknowledged. A handler returns the messages to produce; this worker checks each
 * against its topic's schema, produces them with an idempotent producer, waits for
 * the acknowledgement, then commits: "commit after durable" lives here, not in each
 * handler. A handler throws `PermanentFailure` (with a reason from its topic's list)
 * for what can never succeed: that goes to hearth.images.dead and the partition moves
 * on. Anything else it throws is retried by kafkajs with the offset uncommitted.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Admin, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { HearthError, ValidationError, closeServer, createStatusServer, listen, readiness, writableDir, type Logger } from '../common/index.js';
import { TOPICS, createKafka, ensureTopics } from './client.js';
import { idempotentProducer } from './producer.js';
import { DEAD_REASONS, TOPIC_SCHEMAS, type DeadLetter, type DeadReason, type DeadTopic, type MessageOf, type Topic } from './messages.js';

export class PermanentFailure extends HearthError {
  constructor(
    readonly reason: DeadReason,
    message: string,
  ) {
    super('HEARTH_ERR_PERMANENT', message);
  }
}

/** A message a handler wants produced once its input is done. */
export interface Outgoing<T extends Topic = Topic> {
  topic: T;
  key: string;
  value: MessageOf<T>;
}

/** Typed construction of an outgoing message. */
export const outgoing = <T extends Topic>(topic: T, key: string, value: MessageOf<T>): Outgoing<T> => ({ topic, key, value });

export interface WorkerOptions<In extends DeadTopic> {
  brokers: string[];
  clientId: string;
  groupId: string;
  sessionTimeoutMs: number;
  topic: In;
  /** Topics to create when missing, with their partition counts. */
  topics: Record<string, number>;
  jobs: number;
  log: Logger;
  /** The messages to produce for this input; nothing is committed until they are acknowledged. */
  handle: (message: KafkaMessage) => Promise<readonly Outgoing[]>;
  onDead?: (reason: DeadReason<In>) => void;
  /** A gauge by partition that the worker keeps set to its consumer lag (every 5 s). */
  lagGauge?: { labels(partition: string): { set(value: number): void } };
}

export class KafkaWorker<In extends DeadTopic = DeadTopic> {
  readonly producer: Producer;
  readonly admin: Admin;
  private readonly consumer: Consumer;
  /** In the group with partitions assigned (or none to have): what /readyz reports. */
  private joined = false;
  private lagTimer: NodeJS.Timeout | undefined;
  private server: Server | undefined;

  constructor(private readonly o: WorkerOptions<In>) {
    const kafka = createKafka(o.brokers, o.clientId, o.log);
    this.consumer = kafka.consumer({ groupId: o.groupId, sessionTimeout: o.sessionTimeoutMs, heartbeatInterval: Math.floor(o.sessionTimeoutMs / 10) });
    this.producer = idempotentProducer(kafka);
    this.admin = kafka.admin();
    const { GROUP_JOIN, CRASH, DISCONNECT, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, () => (this.joined = true));
    for (const e of [CRASH, DISCONNECT, STOP]) this.consumer.on(e, () => (this.joined = false));
  }

  /**
   * What every Kafka tier runs: `/metrics`, `/healthz` and `/readyz` (ready once in its
   * group and its store is writable) on `http`, then the consumer. Stopped by `stop()`.
   */
  async serve(registry: Registry, o: { http: { host: string; port: number }; store: string; refresh?: () => void; health?: () => Record<string, unknown> }): Promise<AddressInfo> {
    this.server = createStatusServer(registry, {
      refresh: o.refresh ?? (() => {}),
      health: o.health ?? (() => ({})),
      ready: async () => readiness({ kafka: this.joined || 'not in its consumer group yet', store: await writableDir(o.store) }),
    });
    await listen(this.server, o.http.port, o.http.host);
    await this.start();
    return this.server.address() as AddressInfo;
  }

  async start(): Promise<void> {
    await this.admin.connect();
    await ensureTopics(this.admin, { [TOPICS.dead]: 1, ...this.o.topics });
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.o.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.o.jobs,
      eachMessage: async ({ topic, partition, message }) => {
        let out: readonly Outgoing[] = [];
        try {
          out = await this.o.handle(message);
        } catch (err) {
          if (!(err instanceof PermanentFailure)) throw err;
          await this.dead(topic, partition, message, err);
        }
        await this.produce(out);
        await this.consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
    const gauge = this.o.lagGauge;
    if (gauge) {
      this.lagTimer = setInterval(() => {
        this.lag().then(
          (lags) => {
            for (const [partition, lag] of lags) gauge.labels(String(partition)).set(lag);
          },
          (err: unknown) => this.o.log.debug({ err }, 'lag unavailable'),
        );
      }, 5000);
      this.lagTimer.unref();
    }
  }

  /**
   * Each message checked against its topic's schema (a handler that produces an invalid
   * event is a bug: it is retried and logged, never sent), then sent and acknowledged.
   */
  private async produce(out: readonly Outgoing[]): Promise<void> {
    if (out.length === 0) return;
    const problems = out.flatMap((m, i) => (TOPIC_SCHEMAS[m.topic].is(m.value) ? [] : TOPIC_SCHEMAS[m.topic].problems(m.value).map((p) => `[${i}] ${m.topic}: ${p}`)));
    if (problems.length > 0) throw new ValidationError('outgoing messages', problems);
    const byTopic = new Map<string, { key: string; value: string }[]>();
    for (const m of out) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), { key: m.key, value: JSON.stringify(m.value) }]);
    await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  private async dead(topic: string, partition: number, message: KafkaMessage, err: PermanentFailure): Promise<void> {
    // A reason outside the topic's list is a handler bug: retried, never filed under a name no alert knows.
    if (!(DEAD_REASONS[this.o.topic] as readonly string[]).includes(err.reason)) throw new HearthError('HEARTH_ERR_INVALID', `dead-letter reason ${JSON.stringify(err.reason)} is not one of ${this.o.topic}'s (${DEAD_REASONS[this.o.topic].join(', ')})`, { cause: err });
    this.o.onDead?.(err.reason);
    this.o.log.warn({ topic, partition, offset: message.offset, reason: err.reason, err: err.message }, 'message sent to the dead-letter topic');
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
    await this.produce([outgoing(TOPICS.dead, dead.key ?? '', dead)]);
  }

  /** Consumer lag of `topic` for this group, by partition. */
  async lag(): Promise<Map<number, number>> {
    const [ends, committed] = await Promise.all([this.admin.fetchTopicOffsets(this.o.topic), this.admin.fetchOffsets({ groupId: this.o.groupId, topics: [this.o.topic] })]);
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset === '-1' ? '0' : p.offset)]));
    return new Map(ends.map((e) => [e.partition, Number(BigInt(e.high) - (done.get(e.partition) ?? 0n))]));
  }

  async stop(): Promise<void> {
    clearInterval(this.lagTimer);
    await this.consumer.disconnect();
    await this.producer.disconnect();
    await this.admin.disconnect();
    if (this.server) await closeServer(this.server);
  }
}

/** JSON-parses and validates a message, or throws `PermanentFailure('invalid_message')`. */
export function parseMessage<T>(message: KafkaMessage, validator: { is(v: unknown): v is T; problems(v: unknown): string[] }): T {
  let value: unknown;
  try {
    value = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch {
    throw new PermanentFailure('invalid_message', 'not JSON');
  }
  if (!validator.is(value)) throw new PermanentFailure('invalid_message', validator.problems(value).join('; '));
  return value;
}
