/** kafkajs set up the Hearth way: pino for its logs, topics created on purpose. */
import { Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs';
import type { Logger } from '../common/index.js';

export const TOPICS = {
  uploaded: 'hearth.images.uploaded',
  resized: 'hearth.images.resized',
  compressed: 'hearth.images.compressed',
  dead: 'hearth.images.dead',
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

/** Creates the topics that are missing, with the given partition counts; existing topics are left as they are. */
export async function ensureTopics(admin: Admin, partitions: Record<string, number>): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = Object.entries(partitions).filter(([t]) => !existing.has(t));
  if (missing.length === 0) return [];
  await admin.createTopics({ waitForLeaders: true, topics: missing.map(([topic, numPartitions]) => ({ topic, numPartitions, replicationFactor: 1 })) });
  return missing.map(([t]) => t);
}
