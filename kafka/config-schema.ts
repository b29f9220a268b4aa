/** The Kafka sections of configs, defined once: workers (resize, compress) and commands that only produce (backfill, upload). */
import { Type, type Static } from '@sinclair/typebox';

/** Kafka bootstrap brokers, `host:port` each. */
const brokers = () =>
  Type.Array(Type.String({ pattern: '^[^\\s:]+:\\d{1,5}$' }), { minItems: 1, default: ['127.0.0.1:9092'], description: 'Kafka bootstrap brokers' });
const partitions = (description: string) => Type.Integer({ minimum: 1, maximum: 1024, default: 8, description });

export const kafkaSection = (groupId: string) =>
  Type.Object(
    {
      brokers: brokers(),
      groupId: Type.String({ minLength: 1, default: groupId, description: 'consumer group: add workers with the same group to scale out' }),
      sessionTimeoutMs: Type.Integer({
        minimum: 6000,
        maximum: 300000,
        default: 30000,
        description: 'how long a dead worker keeps its partitions before the group rebalances',
      }),
      partitions: partitions('partitions of topics this worker creates when missing'),
      maxAttempts: Type.Integer({
        minimum: 1,
        maximum: 100,
        default: 5,
        description:
          'tries of a message whose handler fails in a way it did not foresee, with backoff, before it is dead-lettered (`handler_error`); a full disk or an unreachable broker is retried without limit',
      }),
      stuckAfterSeconds: Type.Integer({
        minimum: 10,
        maximum: 86400,
        default: 120,
        description: 'the consumer out of its group, one message in handling, or lag with no message finished, for longer than this: `/healthz` fails',
      }),
    },
    { additionalProperties: false, default: {} },
  );
export type KafkaSection = Static<ReturnType<typeof kafkaSection>>;

/** What a command that only produces needs: where the brokers are, and how to create a missing topic. */
export const producerSection = () =>
  Type.Object(
    {
      brokers: brokers(),
      partitions: partitions('partitions of the topic if it must be created'),
    },
    { additionalProperties: false, default: {} },
  );
