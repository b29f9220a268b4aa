/**
 * The ids the identity tier quarantined, followed from hearth.images.quarantined, so the
 * warmer never pushes them (the origin answers 451 for them anyway; this keeps the
 * caches from even asking). The topic is keyed by id and compacted: an empty value (a
 * tombstone) lifts a quarantine.
 *
 * Every warmer needs every id, so each reads all partitions from the beginning in a
 * consumer group of its own and never commits. Kafka being away never stops warming:
 * the feed reconnects in the background, and the ids already read stay in force.
 */
import { hostname } from 'node:os';
import type { Consumer } from 'kafkajs';
import type { Logger } from '../common/index.js';
import { SIZE_PATH } from '../image/index.js';
import { TOPICS, createKafka, ensureTopics, quarantinedValidator } from '../kafka/index.js';

const SIZE = new RegExp(SIZE_PATH);
const RETRY_MS = 5000;

export class QuarantineFeed {
  private readonly ids = new Set<string>();
  private consumer: Consumer | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  /** Partition → the offset that, once read, means everything quarantined at start is known. */
  private pending = new Map<number, bigint>();
  private caughtUp = false;
  /** Messages that were not a quarantine record (counted, skipped). */
  invalid = 0;

  constructor(private readonly o: { brokers: string[]; log: Logger }) {}

  get size(): number {
    return this.ids.size;
  }

  /** Whether every quarantine that existed when the feed (re)connected has been read. */
  get current(): boolean {
    return this.caughtUp;
  }

  /** Whether `path` is a size of a quarantined image. */
  blocks(path: string): boolean {
    if (this.ids.size === 0) return false;
    const m = SIZE.exec(path);
    return m !== null && this.ids.has(m[2] as string);
  }

  /** Starts following in the background; never throws. */
  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const kafka = createKafka(this.o.brokers, 'hearth-warmer', this.o.log);
    const admin = kafka.admin();
    try {
      await admin.connect();
      await ensureTopics(admin, { [TOPICS.quarantined]: 1 });
      const ends = await admin.fetchTopicOffsets(TOPICS.quarantined);
      this.pending = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high) - 1n]));
      this.caughtUp = this.pending.size === 0;
      const consumer = kafka.consumer({ groupId: `hearth-warmer-quarantine-${hostname()}-${process.pid}-${Date.now()}` });
      this.consumer = consumer;
      consumer.on(consumer.events.CRASH, (e) => {
        // kafkajs restarts a consumer after a retriable crash itself; only a final one needs us.
        if (e.payload.restart) return;
        this.o.log.warn({ err: e.payload.error }, 'quarantine feed stopped; reconnecting');
        this.again();
      });
      await consumer.connect();
      await consumer.subscribe({ topic: TOPICS.quarantined, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: ({ partition, message }) => {
          const id = message.key?.toString('utf8') ?? '';
          if (message.value === null || message.value.length === 0) this.ids.delete(id);
          else this.take(id, message.value);
          const until = this.pending.get(partition);
          if (until !== undefined && BigInt(message.offset) >= until) {
            this.pending.delete(partition);
            if (this.pending.size === 0 && !this.caughtUp) {
              this.caughtUp = true;
              this.o.log.info({ quarantined: this.ids.size }, 'quarantine feed caught up');
            }
          }
          return Promise.resolve();
        },
      });
    } catch (err) {
      this.o.log.warn({ err, brokers: this.o.brokers }, 'quarantine feed cannot reach Kafka; retrying');
      this.again();
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  private take(id: string, value: Buffer): void {
    let record: unknown;
    try {
      record = JSON.parse(value.toString('utf8'));
    } catch {
      record = undefined;
    }
    if (!quarantinedValidator.is(record) || record.id !== id) {
      this.invalid++;
      return;
    }
    this.ids.add(id);
  }

  private again(): void {
    if (this.stopped || this.retry) return;
    const old = this.consumer;
    this.consumer = undefined;
    void old?.disconnect().catch(() => {});
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, RETRY_MS);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.consumer?.disconnect().catch(() => {});
  }
}
