/**
 * What every Hearth consumer does the same way: create its topics, consume with
 * offsets committed only after the handler has made its work durable, send what can
 * never succeed to hearth.images.dead with a reason, and produce its own events with
 * an idempotent producer. The handler throws `PermanentFailure` for the dead-letter
 * topic; anything else it throws is retried by kafkajs with the offset uncommitted.
 */
import { Partitioners, type Admin, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import type { Logger } from '../common/index.js';
import { TOPICS, createKafka, ensureTopics } from './client.js';
import type { DeadLetter } from './messages.js';

export class PermanentFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface WorkerOptions {
  brokers: string[];
  clientId: string;
  groupId: string;
  sessionTimeoutMs: number;
  topic: string;
  /** Topics to create when missing, with their partition counts. */
  topics: Record<string, number>;
  jobs: number;
  log: Logger;
  handle: (message: KafkaMessage) => Promise<void>;
  onDead?: (reason: string) => void;
}

export class KafkaWorker {
  readonly producer: Producer;
  readonly admin: Admin;
  private readonly consumer: Consumer;
  /** In the group with partitions assigned (or none to have): what /readyz reports. */
  private joined = false;

  constructor(private readonly o: WorkerOptions) {
    const kafka = createKafka(o.brokers, o.clientId, o.log);
    this.consumer = kafka.consumer({ groupId: o.groupId, sessionTimeout: o.sessionTimeoutMs, heartbeatInterval: Math.floor(o.sessionTimeoutMs / 10) });
    // Idempotent: a producer retry never writes an event twice (and must not give up
    // early, or the guarantee goes). Keys are image ids, so one image stays on one partition.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 } });
    this.admin = kafka.admin();
    const { GROUP_JOIN, CRASH, DISCONNECT, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, () => (this.joined = true));
    for (const e of [CRASH, DISCONNECT, STOP]) this.consumer.on(e, () => (this.joined = false));
  }

  /** Whether the consumer has joined its group and takes messages. */
  isJoined(): boolean {
    return this.joined;
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
        try {
          await this.o.handle(message);
        } catch (err) {
          if (!(err instanceof PermanentFailure)) throw err;
          await this.dead(topic, partition, message, err);
        }
        await this.consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
  }

  private async dead(topic: string, partition: number, message: KafkaMessage, err: PermanentFailure): Promise<void> {
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
    await this.producer.send({ topic: TOPICS.dead, messages: [{ key: dead.key, value: JSON.stringify(dead) }] });
  }

  /** Consumer lag of `topic` for this group, by partition. */
  async lag(): Promise<Map<number, number>> {
    const [ends, committed] = await Promise.all([this.admin.fetchTopicOffsets(this.o.topic), this.admin.fetchOffsets({ groupId: this.o.groupId, topics: [this.o.topic] })]);
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset === '-1' ? '0' : p.offset)]));
    return new Map(ends.map((e) => [e.partition, Number(BigInt(e.high) - (done.get(e.partition) ?? 0n))]));
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.producer.disconnect();
    await this.admin.disconnect();
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
