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

export function createKafka(brokers: string[], clientId: string, log: Logger): Kafka {
  const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = { [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'info', [logLevel.DEBUG]: 'debug' };
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[levels[level] ?? 'info']({ kafka: namespace, ...rest }, message);
      },
    retry: { retries: 8, initialRetryTime: 200 },
  });
}

/** Topics that keep the last message per key, not a time window: a quarantine must outlive any retention. */
const COMPACTED: ReadonlySet<string> = new Set([TOPICS.quarantined, TOPICS.takedown]);

/** Creates the topics that are missing, with the given partition counts; existing topics are left as they are. */
export async function ensureTopics(admin: Admin, partitions: Record<string, number>): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = Object.entries(partitions).filter(([t]) => !existing.has(t));
  if (missing.length === 0) return [];
  await admin.createTopics({ waitForLeaders: true, topics: missing.map(([topic, numPartitions]) => ({ topic, numPartitions, replicationFactor: 1, ...(COMPACTED.has(topic) ? { configEntries: [{ name: 'cleanup.policy', value: 'compact' }] } : {}) })) });
  return missing.map(([t]) => t);
}
