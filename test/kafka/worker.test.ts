/**
 * The consumer every Kafka tier shares, through real brokers: no message and no crash of
 * the Kafka client stops it, and /healthz tells the truth when it is stuck.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import { createLogger, createRegistry } from '../../common/index.js';
import { KafkaBroker, KafkaWorker, TOPICS, type Outgoing } from '../../kafka/index.js';
import { loadResizeConfig } from '../../resize/index.js';
import { DirStore } from '../../store/index.js';
import { freePorts } from '../helpers/test-stack.js';
import { ensureTestTopics, testKafka, watchTopics } from '../helpers/test-kafka.js';
import { until } from '../helpers/until.js';

const log = createLogger('kafka-worker-test', 'silent');

/** A worker on hearth.images.resized of its own group, whose handler the test decides, with its status listener. */
async function startWorker(
  brokers: string[],
  handle: (m: KafkaMessage) => Promise<readonly Outgoing[]>,
  kafka: Partial<{ maxAttempts: number; sessionTimeoutMs: number }> = {},
) {
  const registry = createRegistry();
  const worker = new KafkaWorker({
    kafka: { ...loadResizeConfig().kafka, groupId: `g-worker-${Date.now()}-${Math.random().toString(36).slice(2)}`, brokers, sessionTimeoutMs: 6000, ...kafka },
    clientId: 'worker-test',
    registry,
    topic: TOPICS.resized,
    topics: { [TOPICS.resized]: 4 },
    jobs: 2,
    log,
    handle,
  });
  const addr = await worker.serve({ http: { host: '127.0.0.1', port: 0 }, store: new DirStore(tmpdir()) });
  const status = async (path: string) => (await fetch(`http://127.0.0.1:${addr.port}${path}`)).status;
  /** A series' value as a scrape of /metrics shows it, by name and label text (`kind="unforeseen"`). */
  const metric = async (name: string, labels = '') => {
    const text = await (await fetch(`http://127.0.0.1:${addr.port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return Number(line?.split(' ').pop() ?? NaN);
  };
  return { worker, status, metric };
}

/** Messages of this run only: the shared broker's topic holds other tests' events too. */
const tag = `run-${Date.now()}`;
const value = (what: string): string => JSON.stringify({ tag, what });
const what = (m: KafkaMessage): string | undefined => {
  try {
    const v = JSON.parse(m.value?.toString() ?? '') as { tag?: string; what?: string };
    return v.tag === tag ? v.what : undefined;
  } catch {
    return undefined;
  }
};

describe('the shared Kafka consumer', function () {
  this.timeout(120000);
  let brokers: string[];
  let producer: Producer;
  let watcher: Consumer;
  const dead: { reason: string; error: string; value: string }[] = [];

  before(async () => {
    brokers = [(await testKafka()).address];
    const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    await ensureTestTopics(kafka, [TOPICS.accepted, TOPICS.resized, TOPICS.dead]);
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    watcher = await watchTopics(kafka, [TOPICS.dead], (_, v) =>
      dead.push({ reason: String(v.reason), error: String(v.error), value: Buffer.from(String(v.value), 'base64').toString() }),
    );
  });
  after(async () => {
    await watcher?.disconnect();
    await producer?.disconnect();
  });

  it('an error the handler did not foresee is tried kafka.maxAttempts times, then dead-lettered as handler_error with the error named; the next message is handled', async () => {
    const tries = new Map<string, number>();
    const { worker, metric } = await startWorker(
      brokers,
      (m) => {
        const w = what(m);
        if (w) tries.set(w, (tries.get(w) ?? 0) + 1);
        if (w === 'boom') throw new TypeError('cannot read the unforeseen');
        return Promise.resolve([]);
      },
      { maxAttempts: 3 },
    );
    try {
      await producer.send({
        topic: TOPICS.resized,
        messages: [
          { key: tag, value: value('boom') },
          { key: tag, value: value('next') },
        ],
      });
      await until('next handled', () => (tries.get('next') ? true : undefined), 60000);
      assert.equal(tries.get('boom'), 3);
      await until('dead letter', () => dead.find((d) => d.value === value('boom')), 10000);
      const d = dead.find((x) => x.value === value('boom'))!;
      assert.equal(d.reason, 'handler_error');
      assert.match(d.error, /TypeError: cannot read the unforeseen \(failed 3 times\)/);
      assert.equal(await metric('hearth_kafka_consumer_retries_total', 'kind="unforeseen"'), 2);
      assert.equal(await metric('hearth_kafka_consumer_retries_total', 'kind="transient"'), 0);
    } finally {
      await worker.stop();
    }
  });

  it('a transient failure (a full disk) is tried until it passes, never dead-lettered', async () => {
    let tries = 0;
    const { worker } = await startWorker(
      brokers,
      (m) => {
        if (what(m) !== 'full') return Promise.resolve([]);
        tries++;
        if (tries < 3) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        return Promise.resolve([]);
      },
      { maxAttempts: 1 },
    );
    try {
      await producer.send({ topic: TOPICS.resized, messages: [{ key: tag, value: value('full') }] });
      await until('passed', () => (tries === 3 ? true : undefined), 60000);
      assert.ok(!dead.some((d) => d.value === value('full')));
    } finally {
      await worker.stop();
    }
  });

  it('a message stuck in its handler fails /healthz (not only /readyz) past kafka.stuckAfterSeconds, naming it; released, healthy again', async () => {
    let release: () => void = () => {};
    let started: string | undefined;
    const { worker, status } = await startWorker(brokers, (m) => {
      if (what(m) !== 'stuck') return Promise.resolve([]);
      started = m.offset;
      return new Promise((resolve) => (release = () => resolve([])));
    });
    try {
      await producer.send({ topic: TOPICS.resized, messages: [{ key: tag, value: value('stuck') }] });
      await until('in handling', () => (started ? true : undefined), 60000);
      assert.deepEqual(worker.problems(), []);
      // The bound is 120 s by default: looked at from 121 s on, rather than waited for. (Other
      // tests' messages on the shared topic pass through too, and may be in handling just then.)
      const named = (p: string[]) => p.find((x) => x.startsWith(`message at offset ${started} of hearth.images.resized partition `));
      assert.match(
        named(worker.problems(Date.now() + 121_000)) ?? '',
        /^message at offset \d+ of hearth\.images\.resized partition \d+ in handling for 121 s$/,
      );
      assert.equal(await status('/healthz'), 200);
      release();
      await until('finished', () => (named(worker.problems(Date.now() + 121_000)) === undefined ? true : undefined), 10000);
    } finally {
      release();
      await worker.stop();
    }
  });

  it('a member evicted mid-message (its handler outlived the session): the crash that follows starts a new consumer, which handles what comes next', async () => {
    let slow = 0;
    const seen: string[] = [];
    const { worker, status, metric } = await startWorker(brokers, async (m) => {
      const w = what(m);
      if (w) seen.push(w);
      // Longer than the session (6 s) without a heartbeat: the group evicts the member, and its commit then fails.
      if (w === 'slow' && slow++ === 0) await new Promise((r) => setTimeout(r, 10000));
      return [];
    });
    try {
      await producer.send({ topic: TOPICS.resized, messages: [{ key: tag, value: value('slow') }] });
      await until('slow started', () => (slow > 0 ? true : undefined), 60000);
      await producer.send({ topic: TOPICS.resized, messages: [{ key: `${tag}-other`, value: value('after-evict') }] });
      await until('next handled', () => (seen.includes('after-evict') ? true : undefined), 90000);
      await until(
        'in its group',
        async () => ((await metric('hearth_kafka_consumer_running')) === 1 && (await status('/healthz')) === 200 ? true : undefined),
        60000,
      );
      // The commit after eviction is refused in a way kafkajs does not restart from: the worker started a new consumer.
      assert.equal(await metric('hearth_kafka_consumer_restarts_total'), 1);
      assert.equal(slow, 2, 'the slow message was handled again by the new member');
    } finally {
      await worker.stop();
    }
  });

  it('a broker killed and restarted under a running worker: the worker is back in its group by itself and handles what comes next', async function () {
    this.timeout(180000);
    const [port, controllerPort] = await freePorts(2);
    const broker = new KafkaBroker({ dir: mkdtempSync(join(tmpdir(), 'hearth-kafka-crash-')), port, controllerPort, partitions: 2 });
    await broker.start();
    const own = [broker.address];
    const seen: string[] = [];
    const { worker, status, metric } = await startWorker(own, (m) => {
      const w = what(m);
      if (w) seen.push(w);
      return Promise.resolve([]);
    });
    const p = new Kafka({ brokers: own, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    try {
      await until('ready', async () => ((await status('/readyz')) === 200 ? true : undefined), 60000);
      await p.connect();
      await p.send({ topic: TOPICS.resized, messages: [{ key: tag, value: value('before') }] });
      await until('before handled', () => (seen.includes('before') ? true : undefined), 30000);
      process.kill(broker.pid()!, 'SIGKILL');
      await until('out of its group', async () => ((await metric('hearth_kafka_consumer_running')) === 0 ? true : undefined), 90000);
      await broker.start();
      await until(
        'back in its group',
        async () => ((await status('/readyz')) === 200 && (await metric('hearth_kafka_consumer_running')) === 1 ? true : undefined),
        120000,
      );
      await p.send({ topic: TOPICS.resized, messages: [{ key: tag, value: value('after') }] });
      await until('after handled', () => (seen.includes('after') ? true : undefined), 60000);
      assert.equal(await status('/healthz'), 200);
    } finally {
      await p.disconnect().catch(() => {});
      await worker.stop().catch(() => {});
      await broker.stop();
    }
  });
});
