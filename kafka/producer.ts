/** Producers, one way: idempotent, so a retry never writes an event twice. */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from '../common/index.js';
import { createKafka, ensureTopics } from './client.js';

/**
 * Idempotent (one request in flight) and never giving up early: limiting retries would
 * void the guarantee. Keys are image ids, so one image stays on one partition.
 */
export function idempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 } });
}

/** A connected producer for a command, with `topics` created first where missing. */
export async function connectProducer(brokers: string[], clientId: string, log: Logger, topics: Record<string, number>): Promise<Producer> {
  const kafka = createKafka(brokers, clientId, log);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, topics);
  } finally {
    await admin.disconnect();
  }
  const producer = idempotentProducer(kafka);
  await producer.connect();
  return producer;
}
