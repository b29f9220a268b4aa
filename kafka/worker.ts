/**
 * What every Hearth consumer does the same way: create its topics, consume, and commit
 * an offset only after the handler's work is durable and the messages it asked for are
 * acknowledged. A handler returns the messages to produce; this worker checks each
 * against its topic's schema, produces them with an idempotent producer, waits for
 * the acknowledgement, then commits: "commit after durable" lives here, not in each
 * handler.
 *
 * No message can stop the consumer:
 * - `PermanentFailure` (a reason from its topic's list): hearth.images.dead at once, and
 *   the partition moves on.
 * - A transient failure (a full disk, too many open files, the broker): tried again
 *   with backoff, without limit; the message is only delayed, never lost, and a stall
 *   longer than `kafka.stuckAfterSeconds` fails `/healthz`.
 * - Anything else the handler did not foresee: tried `kafka.maxAttempts` times with
 *   backoff, then dead-lettered as `handler_error`, the error named.
 * - A crash of the Kafka client that it would not recover from itself: a new consumer
 *   is started (`hearth_kafka_consumer_restarts_total`), never a live process with a
 *   dead consumer.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, type Consumer, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { HearthError, ValidationError, closeServer, createMetrics, createStatusServer, listen, readiness, type Logger, type Metrics } from '../common/index.js';
import { TOPICS, createKafka, ensureTopics } from './client.js';
import type { KafkaSection } from './config-schema.js';
import { idempotentProducer } from './producer.js';
import { DEAD_REASONS, TOPIC_SCHEMAS, type DeadLetter, type DeadReason, type DeadTopic, type MessageOf, type Topic } from './messages.js';
import { KAFKA_CONSUMER_METRICS } from './metrics.js';

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
  kafka: Pick<KafkaSection, 'brokers' | 'groupId' | 'sessionTimeoutMs' | 'maxAttempts' | 'stuckAfterSeconds'>;
  clientId: string;
  /** The tier's registry: the consumer's own metrics go beside the tier's. */
  registry: Registry;
  topic: In;
  /** Topics to create when missing, with their partition counts. */
  topics: Record<string, number>;
  jobs: number;
  log: Logger;
  /** The messages to produce for this input; nothing is committed until they are acknowledged. */
  handle: (message: KafkaMessage) => Promise<readonly Outgoing[]>;
  /** The tier's dead-letter counter by reason: every reason of the topic is set to 0 at start (an alert on its rate has a series to watch), and counted here. */
  deadLetters?: { labels(reason: string): { inc(n?: number): void } };
  /**
   * When a message may be handled at the earliest (epoch ms; by default at once): the
   * worker waits until then, heartbeating, so a consumer that acts a fixed time after
   * each event (a purge repeated once every fetch in flight has ended) keeps its group
   * and commits only after acting. A stop ends the wait and leaves the message uncommitted.
   */
  notBefore?: (message: KafkaMessage) => number;
  /** A gauge by partition that the worker keeps set to its consumer lag (every 5 s). */
  lagGauge?: { labels(partition: string): { set(value: number): void } };
}

/** Errors that say nothing about the message: retried until they pass, however long (the stall shows on /healthz). */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ENOSPC',
  'EDQUOT',
  'EMFILE',
  'ENFILE',
  'ENOMEM',
  'EAGAIN',
  'EBUSY',
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  // A store service at its disk reserve, or out of reach for a while (undici's codes, the S3 driver's).
  'HEARTH_ERR_STORE_FULL',
  'HEARTH_ERR_STORE_UNAVAILABLE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export function isTransient(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; retriable?: unknown };
  return (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) || (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) || e.retriable === true;
}

/**
 * A handler's messages, each checked against its topic's schema: a handler that produces
 * an invalid event is a bug, which fails its tries (and is dead-lettered as
 * handler_error) rather than reaching a topic.
 */
function checked(out: readonly Outgoing[]): readonly Outgoing[] {
  const problems = out.flatMap((m, i) =>
    TOPIC_SCHEMAS[m.topic].is(m.value) ? [] : TOPIC_SCHEMAS[m.topic].problems(m.value).map((p) => `[${i}] ${m.topic}: ${p}`),
  );
  if (problems.length > 0) throw new ValidationError('outgoing messages', problems);
  return out;
}

/** Backoff before try `attempt + 1`: 0.5 s doubling to 30 s, with jitter so a group's retries do not march in step. */
export const retryDelayMs = (attempt: number): number => Math.min(30_000, 500 * 2 ** Math.min(attempt - 1, 10)) * (0.75 + Math.random() * 0.5);

/** An error named for a dead letter: its class, its code, its message. */
const describe = (err: unknown): string => {
  const e = err as { name?: string; code?: string; message?: string };
  return `${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''}: ${e.message ?? String(err)}`;
};

export class KafkaWorker<In extends DeadTopic = DeadTopic> {
  readonly producer: Producer;
  readonly admin: Admin;
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private readonly metrics: Metrics<typeof KAFKA_CONSUMER_METRICS>;
  private readonly stopping = new AbortController();
  /** In the group with partitions assigned (or none to have): what /readyz reports. */
  private joined = false;
  /** When the consumer last left its group (or started), while it is out: undefined while in. */
  private outSince: number | undefined = Date.now();
  private lastCrash: string | undefined;
  /** Partitions of the topic this member was assigned at its last join. */
  private assigned: number[] = [];
  /** Messages in handling: start time by partition (one at a time per partition). */
  private readonly handling = new Map<number, { since: number; offset: string }>();
  /** Messages finished (committed or dead-lettered) since start, and at the last lag poll. */
  private finished = 0;
  private finishedAtPoll = 0;
  /** Since when the lag on this member's partitions has stood with no message finished. */
  private stalledSince: number | undefined;
  private lastLag = 0;
  private lagTimer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;
  private server: Server | undefined;

  constructor(private readonly o: WorkerOptions<In>) {
    this.kafka = createKafka(o.kafka.brokers, o.clientId, o.log);
    this.producer = idempotentProducer(this.kafka);
    this.admin = this.kafka.admin();
    this.metrics = createMetrics(KAFKA_CONSUMER_METRICS, o.registry);
    for (const kind of ['transient', 'unforeseen']) this.metrics.retries.labels(o.kafka.groupId, kind).inc(0);
    for (const r of DEAD_REASONS[o.topic]) o.deadLetters?.labels(r).inc(0);
    this.metrics.restarts.labels(o.kafka.groupId).inc(0);
    this.refreshGauges();
  }

  /**
   * What every Kafka tier runs: `/metrics`, `/healthz` (failing while the consumer is
   * out of its group or stuck, see `problems`) and `/readyz` (ready once in its group
   * and its store is writable) on `http`, then the consumer. Stopped by `stop()`.
   */
  async serve(o: {
    http: { host: string; port: number };
    store: { ready(): Promise<true | string> };
    refresh?: () => void;
    health?: () => Record<string, unknown>;
  }): Promise<AddressInfo> {
    this.server = createStatusServer(this.o.registry, {
      refresh: () => {
        this.refreshGauges();
        o.refresh?.();
      },
      health: o.health ?? (() => ({})),
      problems: () => this.problems(),
      ready: async () => readiness({ kafka: this.joined || 'not in its consumer group yet', store: await o.store.ready() }),
    });
    await listen(this.server, o.http.port, o.http.host);
    await this.start();
    return this.server.address() as AddressInfo;
  }

  /** In its consumer group (what `/readyz` reports as `kafka`). */
  get inGroup(): boolean {
    return this.joined;
  }

  async start(): Promise<void> {
    await this.admin.connect();
    await ensureTopics(this.admin, { [TOPICS.dead]: 1, ...this.o.topics });
    await this.producer.connect();
    await this.runConsumer();
    this.lagTimer = setInterval(() => void this.pollLag(), 5000);
    this.lagTimer.unref();
  }

  /** A new consumer in the group, running. */
  private async runConsumer(): Promise<void> {
    const k = this.o.kafka;
    const consumer = this.kafka.consumer({ groupId: k.groupId, sessionTimeout: k.sessionTimeoutMs, heartbeatInterval: Math.floor(k.sessionTimeoutMs / 10) });
    this.consumer = consumer;
    const { GROUP_JOIN, CRASH, DISCONNECT, STOP } = consumer.events;
    consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      this.outSince = undefined;
      this.assigned = e.payload.memberAssignment[this.o.topic] ?? [];
    });
    for (const ev of [DISCONNECT, STOP]) consumer.on(ev, () => this.leave());
    consumer.on(CRASH, (e) => {
      this.leave();
      this.lastCrash = describe(e.payload.error);
      // kafkajs restarts itself after what it calls retriable; anything else would leave
      // this process alive with no consumer: start a new one.
      if (!e.payload.restart && consumer === this.consumer) this.restart();
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.o.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.o.jobs,
      eachMessage: async (payload) => {
        const { topic, partition, message } = payload;
        this.handling.set(partition, { since: Date.now(), offset: message.offset });
        try {
          const wait = (this.o.notBefore?.(message) ?? 0) - Date.now();
          if (wait > 0) await this.pause(wait, () => payload.heartbeat());
          const out = await this.attempt(topic, partition, message, () => payload.heartbeat());
          await this.produce(out);
          await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
          this.finished++;
        } finally {
          this.handling.delete(partition);
        }
      },
    });
  }

  private leave(): void {
    this.joined = false;
    this.outSince ??= Date.now();
  }

  /** A new consumer after one crashed for good, tried with backoff until it runs or the worker stops. */
  private restart(): void {
    if (this.restarting || this.stopping.signal.aborted) return;
    this.metrics.restarts.labels(this.o.kafka.groupId).inc();
    this.o.log.error({ err: this.lastCrash }, 'Kafka consumer crashed and will not restart itself; starting a new one');
    this.restarting = (async () => {
      for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
        await this.consumer?.disconnect().catch(() => {});
        try {
          await this.runConsumer();
          return;
        } catch (err) {
          this.lastCrash = describe(err);
          this.o.log.error({ err: this.lastCrash, attempt }, 'new Kafka consumer failed to start; trying again');
          await sleep(retryDelayMs(attempt), undefined, { signal: this.stopping.signal }).catch(() => {});
        }
      }
    })().finally(() => (this.restarting = undefined));
  }

  /**
   * The handler's messages for one input, after as many tries as its failure deserves;
   * what can never succeed is dead-lettered here (and produces nothing else).
   */
  private async attempt(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<readonly Outgoing[]> {
    const group = this.o.kafka.groupId;
    for (let attempt = 1; ; attempt++) {
      try {
        return checked(await this.o.handle(message));
      } catch (err) {
        if (err instanceof PermanentFailure) {
          await this.dead(topic, partition, message, err.reason, err.message);
          return [];
        }
        if (this.stopping.signal.aborted) throw err;
        const transient = isTransient(err);
        if (!transient && attempt >= this.o.kafka.maxAttempts) {
          await this.dead(topic, partition, message, 'handler_error', `${describe(err)} (failed ${attempt} times)`);
          return [];
        }
        this.metrics.retries.labels(group, transient ? 'transient' : 'unforeseen').inc();
        const wait = retryDelayMs(attempt);
        this.o.log.warn(
          { topic, partition, offset: message.offset, attempt, transient, retryInMs: Math.round(wait), err: describe(err) },
          transient ? 'message failed for a transient reason; trying again' : 'message failed unexpectedly; trying again',
        );
        await this.pause(wait, heartbeat);
      }
    }
  }

  /** Waits `ms`, heartbeating so the group keeps this member; a rebalance or a stop ends the wait by throwing (the message stays uncommitted). */
  private async pause(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      await sleep(Math.min(1000, end - Date.now()), undefined, { signal: this.stopping.signal });
      await heartbeat();
    }
  }

  /** Why this worker, though alive, is not doing its work: what fails /healthz. */
  problems(now = Date.now()): string[] {
    const bound = this.o.kafka.stuckAfterSeconds * 1000;
    const out: string[] = [];
    if (this.outSince !== undefined && now - this.outSince > bound)
      out.push(
        `consumer out of its group for ${Math.round((now - this.outSince) / 1000)} s${this.lastCrash ? ` (last crash: ${this.lastCrash.slice(0, 200)})` : ''}`,
      );
    for (const [partition, h] of this.handling) {
      if (now - h.since > bound)
        out.push(`message at offset ${h.offset} of ${this.o.topic} partition ${partition} in handling for ${Math.round((now - h.since) / 1000)} s`);
    }
    if (this.stalledSince !== undefined && now - this.stalledSince > bound)
      out.push(`lag of ${this.lastLag} on its partitions with no message finished for ${Math.round((now - this.stalledSince) / 1000)} s`);
    return out;
  }

  private refreshGauges(now = Date.now()): void {
    const group = this.o.kafka.groupId;
    this.metrics.running.labels(group).set(this.joined ? 1 : 0);
    const oldest = Math.min(now, ...[...this.handling.values()].map((h) => h.since));
    this.metrics.head.labels(group).set((now - oldest) / 1000);
    this.metrics.stalled.labels(group).set(this.stalledSince === undefined ? 0 : (now - this.stalledSince) / 1000);
  }

  /** Lag on this member's partitions: kept for the tier's gauge and for the stall check. */
  private async pollLag(): Promise<void> {
    let lags: Map<number, number>;
    try {
      lags = await this.lag();
    } catch (err) {
      this.o.log.debug({ err }, 'lag unavailable');
      return;
    }
    const gauge = this.o.lagGauge;
    if (gauge) for (const [partition, lag] of lags) gauge.labels(String(partition)).set(lag);
    const mine = this.joined ? this.assigned.reduce((sum, p) => sum + (lags.get(p) ?? 0), 0) : 0;
    const moved = this.finished !== this.finishedAtPoll;
    this.finishedAtPoll = this.finished;
    this.lastLag = mine;
    if (mine === 0 || moved) this.stalledSince = undefined;
    else this.stalledSince ??= Date.now();
  }

  /** Messages `checked` passed, sent and acknowledged. */
  private async produce(out: readonly Outgoing[]): Promise<void> {
    if (out.length === 0) return;
    const byTopic = new Map<string, { key: string; value: string }[]>();
    for (const m of out) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), { key: m.key, value: JSON.stringify(m.value) }]);
    await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  private async dead(topic: string, partition: number, message: KafkaMessage, reason: DeadReason, error: string): Promise<void> {
    // A reason outside the topic's list is a handler bug: never filed under a name no alert knows.
    if (!(DEAD_REASONS[this.o.topic] as readonly string[]).includes(reason)) {
      error = `dead-letter reason ${JSON.stringify(reason)} is not one of ${this.o.topic}'s (a bug in its handler); it said: ${error}`;
      reason = 'handler_error';
    }
    this.o.deadLetters?.labels(reason).inc();
    this.o.log.warn({ topic, partition, offset: message.offset, reason, err: error }, 'message sent to the dead-letter topic');
    const dead: DeadLetter = {
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString('utf8').slice(0, 64) ?? null,
      reason,
      error: error.slice(0, 500),
      value: (message.value ?? Buffer.alloc(0)).subarray(0, 4096).toString('base64'),
      ts: Date.now(),
    };
    await this.produce([outgoing(TOPICS.dead, dead.key ?? '', dead)]);
  }

  /** Consumer lag of `topic` for this group, by partition. */
  async lag(): Promise<Map<number, number>> {
    const [ends, committed] = await Promise.all([
      this.admin.fetchTopicOffsets(this.o.topic),
      this.admin.fetchOffsets({ groupId: this.o.kafka.groupId, topics: [this.o.topic] }),
    ]);
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset === '-1' ? '0' : p.offset)]));
    return new Map(ends.map((e) => [e.partition, Number(BigInt(e.high) - (done.get(e.partition) ?? 0n))]));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.lagTimer);
    await this.restarting;
    await this.consumer?.disconnect();
    await this.producer.disconnect();
    await this.admin.disconnect();
    if (this.server) await closeServer(this.server);
  }
}

/**
 * JSON-parses and validates a message, or throws `PermanentFailure('invalid_message')`;
 * `mismatch` says what, if anything, is wrong across its fields (a path that is not its
 * id's), which no schema can.
 */
export function parseMessage<T>(
  message: KafkaMessage,
  validator: { is(v: unknown): v is T; problems(v: unknown): string[] },
  mismatch: (v: T) => string | undefined = () => undefined,
): T {
  let value: unknown;
  try {
    value = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch {
    throw new PermanentFailure('invalid_message', 'not JSON');
  }
  if (!validator.is(value)) throw new PermanentFailure('invalid_message', validator.problems(value).join('; '));
  const wrong = mismatch(value);
  if (wrong !== undefined) throw new PermanentFailure('invalid_message', wrong);
  return value;
}

/** The dead-letter reasons a read of what a message names can end in. */
export interface ReadReasons {
  missing: DeadReason;
  irregular: DeadReason;
  oversized: DeadReason;
}

/**
 * A store read for a message: a path that is not there (or leads out of the store), is
 * not a regular file, or is over the cap can never succeed, whenever it is retried:
 * `PermanentFailure` with its reason. Anything else passes through (a full disk is retried).
 */
export async function readForMessage<T>(path: string, reasons: ReadReasons, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    const code = (err as { code?: string }).code;
    const reason =
      code === 'HEARTH_ERR_NOT_FOUND' || code === 'HEARTH_ERR_STORE_ESCAPE'
        ? reasons.missing
        : code === 'HEARTH_ERR_NOT_A_FILE'
          ? reasons.irregular
          : code === 'HEARTH_ERR_TOO_LARGE'
            ? reasons.oversized
            : undefined;
    if (reason === undefined) throw err;
    throw new PermanentFailure(reason, `${path}: ${(err as Error).message}`);
  }
}
