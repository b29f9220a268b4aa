/**
 * The photos the warmer must never push: those the identity tier quarantined
 * (hearth.images.quarantined; an empty value, a tombstone, lifts a quarantine) and those
 * taken back (hearth.images.takedown: a delete is for good). The origin answers 451 or
 * 410 for them anyway; this keeps the caches from even asking, and the scheduler asks
 * again at dispatch, so a push queued before the takedown arrived is dropped too. Both
 * topics are keyed by id and compacted.
 *
 * Every warmer needs every id, so each reads all partitions from the beginning in a
 * consumer group of its own and never commits. Kafka being away never stops warming:
 * the feed reconnects in the background, and the ids already read stay in force.
 */
import { hostname } from 'node:os';
import type { Consumer } from 'kafkajs';
import type { Logger } from '../common/index.js';
import { TOPICS, createKafka, ensureTopics, quarantinedValidator, takedownValidator } from '../kafka/index.js';

const RETRY_MS = 5000;

export class TakedownFeed {
  private readonly quarantined = new Set<string>();
  /** Never shrinks: a deleted photo stays deleted (~60 bytes an id: 60 MB at a million deletes). */
  private readonly deleted = new Set<string>();
  private consumer: Consumer | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  /** Partition → the offset that, once read, means everything quarantined at start is known. */
  private pending = new Map<string, bigint>();
  private caughtUp = false;
  /** Messages that were not a quarantine record (counted, skipped). */
  invalid = 0;

  constructor(private readonly o: { brokers: string[]; log: Logger }) {}

  /** Quarantined photos known now. */
  get size(): number {
    return this.quarantined.size;
  }

  /** Deleted photos known now. */
  get deletedCount(): number {
    return this.deleted.size;
  }

  /** Whether every quarantine and takedown that existed when the feed (re)connected has been read. */
  get current(): boolean {
    return this.caughtUp;
  }

  /** Why `path` (a size or the original of a photo) must not be pushed; undefined when it may. */
  blocks(path: string): 'deleted' | 'quarantined' | undefined {
    if (this.quarantined.size === 0 && this.deleted.size === 0) return undefined;
    const id = photoIdOf(path);
    if (id === '') return undefined;
    return this.deleted.has(id) ? 'deleted' : this.quarantined.has(id) ? 'quarantined' : undefined;
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
      await ensureTopics(admin, { [TOPICS.quarantined]: 1, [TOPICS.takedown]: 8 });
      this.pending = new Map();
      for (const topic of [TOPICS.quarantined, TOPICS.takedown]) {
        for (const e of await admin.fetchTopicOffsets(topic))
          if (BigInt(e.high) > BigInt(e.low)) this.pending.set(`${topic}/${e.partition}`, BigInt(e.high) - 1n);
      }
      this.caughtUp = this.pending.size === 0;
      const consumer = kafka.consumer({ groupId: `hearth-warmer-takedowns-${hostname()}-${process.pid}-${Date.now()}` });
      this.consumer = consumer;
      consumer.on(consumer.events.CRASH, (e) => {
        // kafkajs restarts a consumer after a retriable crash itself; only a final one needs us.
        if (e.payload.restart) return;
        this.o.log.warn({ err: e.payload.error }, 'takedown feed stopped; reconnecting');
        this.again();
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [TOPICS.quarantined, TOPICS.takedown], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: ({ topic, partition, message }) => {
          const id = message.key?.toString('utf8') ?? '';
          if (topic === TOPICS.takedown) this.takeDown(id, message.value);
          else if (message.value === null || message.value.length === 0) this.quarantined.delete(id);
          else this.quarantine(id, message.value);
          const until = this.pending.get(`${topic}/${partition}`);
          if (until !== undefined && BigInt(message.offset) >= until) {
            this.pending.delete(`${topic}/${partition}`);
            if (this.pending.size === 0 && !this.caughtUp) {
              this.caughtUp = true;
              this.o.log.info({ quarantined: this.quarantined.size, deleted: this.deleted.size }, 'takedown feed caught up');
            }
          }
          return Promise.resolve();
        },
      });
    } catch (err) {
      this.o.log.warn({ err, brokers: this.o.brokers }, 'takedown feed cannot reach Kafka; retrying');
      this.again();
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  private quarantine(id: string, value: Buffer): void {
    const record = parse(value);
    if (!quarantinedValidator.is(record) || record.id !== id) {
      this.invalid++;
      return;
    }
    this.quarantined.add(id);
  }

  /** A delete is for good; a quarantine applied backwards is followed from hearth.images.quarantined, which can lift it. */
  private takeDown(id: string, value: Buffer | null): void {
    const record = value ? parse(value) : undefined;
    if (!takedownValidator.is(record) || record.id !== id) {
      this.invalid++;
      return;
    }
    if (record.action === 'delete') this.deleted.add(id);
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

function parse(value: Buffer): unknown {
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The photo id of an image path: the digits after its last `/` (every layout puts the id
 * first in the file name). A scan, not the layout's regular expressions: the scheduler asks
 * at every dispatch, tens of thousands of times a second, and the path passed the path
 * policy already.
 */
function photoIdOf(path: string): string {
  const start = path.lastIndexOf('/') + 1;
  let end = start;
  while (end < path.length && path.charCodeAt(end) >= 48 && path.charCodeAt(end) <= 57) end++;
  return path.slice(start, end);
}
