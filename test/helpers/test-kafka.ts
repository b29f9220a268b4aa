/** One real Kafka broker (KRaft) shared by every test that needs it; stopped when the run ends. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaBroker } from '../../kafka/broker.js';
import { ensureTopics } from '../../kafka/client.js';
import { sharedOnce } from './shared-once.js';
import { freePorts } from './test-stack.js';

const broker = sharedOnce(
  async () => {
    const [port, controllerPort] = await freePorts(2);
    const b = new KafkaBroker({ dir: mkdtempSync(join(tmpdir(), 'hearth-kafka-')), port, controllerPort, partitions: 4 });
    process.once('exit', () => {
      const pid = b.pid();
      if (pid) process.kill(pid, 'SIGKILL');
    });
    await b.start();
    return b;
  },
  (b) => b.stop(),
);

export const testKafka = (): Promise<KafkaBroker> => broker.get();
export const stopTestKafka = (): Promise<void> => broker.stop();

/**
 * Reads `topics` from the beginning in a group of its own and hands each JSON message
 * to `onMessage`. Tests put deliberately bad messages on shared topics: those are skipped.
 */
export async function watchTopics(
  kafka: import('kafkajs').Kafka,
  topics: string[],
  onMessage: (topic: string, value: Record<string, unknown>) => void,
): Promise<import('kafkajs').Consumer> {
  const consumer = kafka.consumer({ groupId: `watch-${topics.join('-')}-${Date.now()}-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ topic, message }) => {
      try {
        onMessage(topic, JSON.parse(message.value?.toString() ?? '{}') as Record<string, unknown>);
      } catch {
        // not JSON: not a message these tests watch for
      }
      return Promise.resolve();
    },
  });
  return consumer;
}

/** The pipeline's topics this test reads or writes, created where missing (a test run alone finds none). */
export async function ensureTestTopics(kafka: import('kafkajs').Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, Object.fromEntries(topics.map((t) => [t, 4])));
  } finally {
    await admin.disconnect();
  }
}
