/** Producers, one way: idempotent, so a retry never writes an event twice; one partition a send, so a retry never drops one. */
import { Partitioners, type Kafka, type Message, type Producer, type ProducerBatch, type ProducerRecord, type RecordMetadata } from 'kafkajs';
import type { Logger } from '../common/index.js';
import { createKafka, ensureTopics } from './client.js';

/**
 * Idempotent (one request in flight) and never giving up early: limiting retries would
 * void the guarantee. Keys are image ids, so one image stays on one partition.
 */
export function idempotentProducer(kafka: Kafka): Producer {
  return onePartitionASend(
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 },
    }),
  );
}

/**
 * The messages of one send grouped by the partition they go to: their explicit partition,
 * else their key (one key, one partition); a message with neither goes alone.
 */
export function byPartition(topicMessages: readonly { topic: string; messages: readonly Message[] }[]): { topic: string; messages: Message[] }[] {
  const groups = new Map<string, { topic: string; messages: Message[] }>();
  let alone = 0;
  for (const { topic, messages } of topicMessages) {
    for (const m of messages) {
      const where = m.partition !== undefined ? `p${m.partition}` : m.key !== undefined && m.key !== null ? `k${m.key.toString()}` : `alone${alone++}`;
      const id = `${topic}\0${where}`;
      const group = groups.get(id) ?? { topic, messages: [] };
      group.messages.push(m);
      groups.set(id, group);
    }
  }
  return [...groups.values()];
}

/**
 * `send` and `sendBatch` made one send per partition. kafkajs (2.2.4; its issue 1303, the
 * open PR 1798) can resolve a send that spans partitions without having written some of
 * them: when a partition's leader moves, during the send, to a node that already answered
 * for another partition of it, the retry skips that node, and the moved partition's
 * messages are dropped while the send reports success. A worker then commits its input
 * and the event is lost (seen here: an upload accepted, its `accepted` event never
 * written, when a Kafka node died mid-backfill). A send to one partition has one leader
 * at a time, so its retries always reach the partition's current leader.
 */
function onePartitionASend(producer: Producer): Producer {
  const sendBatch = async ({ topicMessages = [], ...options }: ProducerBatch): Promise<RecordMetadata[]> => {
    const sent = await Promise.all(
      byPartition(topicMessages).map(async (g) => {
        const meta = await producer.send({ ...options, topic: g.topic, messages: g.messages });
        // acks=0 answers nothing; otherwise a send that answers for no partition wrote nothing we know of.
        if (options.acks !== 0 && !meta.some((m) => m.topicName === g.topic && m.errorCode === 0))
          throw new Error(`Kafka answered a send of ${g.messages.length} message(s) to ${g.topic} without acknowledging them`);
        return meta;
      }),
    );
    return sent.flat();
  };
  const send = ({ topic, messages, ...options }: ProducerRecord): Promise<RecordMetadata[]> => sendBatch({ ...options, topicMessages: [{ topic, messages }] });
  return { ...producer, send, sendBatch };
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
