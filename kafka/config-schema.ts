/** The Kafka sections of configs, defined once: workers (resize, compress) and commands that only produce (backfill, upload). */
import { Type } from '@sinclair/typebox';

/** Kafka bootstrap brokers, `host:port` each. */
const brokers = () => Type.Array(Type.String({ pattern: '^[^\\s:]+:\\d{1,5}$' }), { minItems: 1, default: ['127.0.0.1:9092'], description: 'Kafka bootstrap brokers' });
const partitions = (description: string) => Type.Integer({ minimum: 1, maximum: 1024, default: 8, description });

export const kafkaSection = (groupId: string) =>
  Type.Object(
    {
      brokers: brokers(),
      groupId: Type.String({ minLength: 1, default: groupId, description: 'consumer group: add workers with the same group to scale out' }),
      sessionTimeoutMs: Type.Integer({ minimum: 6000, maximum: 300000, default: 30000, description: 'how long a dead worker keeps its partitions before the group rebalances' }),
      partitions: partitions('partitions of topics this worker creates when missing'),
    },
    { additionalProperties: false, default: {} },
  );

/** What a command that only produces needs: where the brokers are, and how to create a missing topic. */
export const producerSection = () =>
  Type.Object(
    {
      brokers: brokers(),
      partitions: partitions('partitions of the topic if it must be created'),
    },
    { additionalProperties: false, default: {} },
  );
