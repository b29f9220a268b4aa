/** kafkajs set up the Hearth way: pino for its logs, topics created on purpose. */
import { Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs';
import type { Logger } from '../common/index.js';

export const TOPICS = {
  uploaded: 'hearth.images.uploaded',
  /** Uploads the identity tier let through: neither a duplicate nor quarantined. The resize tier reads these. */
  accepted: 'hearth.images.accepted',
  /** Quarantined uploads, keyed by id (compacted): what the warmer must never push. */
  quarantined: 'hearth.images.quarantined',
  /** Duplicates and near-duplicates found at ingest, for the site to act on. */
  matched: 'hearth.images.matched',
  resized: 'hearth.images.resized',
  compressed: 'hearth.images.compressed',
  dead: 'hearth.images.dead',
  /**
   * Photos taken back, keyed by id (compacted): announced only once the store holds
   * nothing of the photo, so whoever follows it (each colo's purger, the warmer) can
   * act at once. A deletion, or a quarantine applied to photos already accepted.
   */
  takedown: 'hearth.images.takedown',
  /** Requests to delete a photo, from any system (keyed by id): the takedown worker carries each out and announces it on hearth.images.takedown. */
  deleteRequests: 'hearth.images.delete',
  /** Each colo's purges, for the audit (`hearth takedown status`): which pass, when, how many paths were cached. */
  purged: 'hearth.images.purged',
} as const;

/** kafkajs's texts of the answers that mean "not yet" on a cluster whose metadata is still spreading. */
const NOT_YET_ANSWERS: ReadonlySet<string> = new Set([
  'This server does not host this topic-partition',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
]);

export function createKafka(brokers: string[], clientId: string, log: Logger): Kafka {
  const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
    [logLevel.ERROR]: 'error',
    [logLevel.WARN]: 'warn',
    [logLevel.INFO]: 'info',
    [logLevel.DEBUG]: 'debug',
  };
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        // A broker that has not yet heard of a new topic or leader answers so, and the caller asks again (ensureTopics, producers): not an error unless it gives up, which it reports itself.
        const notYet = namespace === 'Connection' && NOT_YET_ANSWERS.has(String(entry.error));
        log[notYet ? 'debug' : (levels[level] ?? 'info')]({ kafka: namespace, ...rest }, message);
      },
    retry: { retries: 8, initialRetryTime: 200 },
  });
}

/** Topics that keep the last message per key, not a time window: a quarantine must outlive any retention. */
const COMPACTED: ReadonlySet<string> = new Set([TOPICS.quarantined, TOPICS.takedown]);

/**
 * Creates the topics that are missing, with the given partition counts; existing topics
 * are left as they are. Copies and `min.insync.replicas` are the brokers' defaults
 * (kafka/broker.ts): one on a single node, three and two on a cluster.
 */
export async function ensureTopics(admin: Admin, partitions: Record<string, number>): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = Object.entries(partitions).filter(([t]) => !existing.has(t));
  if (missing.length === 0) return [];
  // kafkajs's own waitForLeaders retries only LEADER_NOT_AVAILABLE; on a cluster the broker
  // it asks may not have heard of the new topic yet and answers UNKNOWN_TOPIC_OR_PARTITION,
  // which it throws. So the wait is ours, and it takes either answer as "not yet".
  await admin.createTopics({
    waitForLeaders: false,
    topics: missing.map(([topic, numPartitions]) => ({
      topic,
      numPartitions,
      ...(COMPACTED.has(topic) ? { configEntries: [{ name: 'cleanup.policy', value: 'compact' }] } : {}),
    })),
  });
  await waitForLeaders(admin, Object.fromEntries(missing));
  return missing.map(([t]) => t);
}

const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'NOT_CONTROLLER']);

/** Waits until every partition of the topics has a leader, on whichever broker answers. */
async function waitForLeaders(admin: Admin, partitions: Record<string, number>, timeoutMs = 60_000): Promise<void> {
  const topics = Object.keys(partitions);
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      const waiting = meta.topics.filter((t) => t.partitions.length < (partitions[t.name] ?? 0) || t.partitions.some((p) => p.leader < 0));
      if (waiting.length === 0 && meta.topics.length === topics.length) return;
      last = `no leader yet for ${waiting.map((t) => t.name).join(', ') || 'a topic'}`;
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (!type || !NOT_YET.has(type)) throw err;
      last = type;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
