/**
 * Kafka as a cluster, on three real KRaft nodes (each a broker and a controller voter),
 * each on a test host of its own (a network namespace; on loopback without root):
 * Hearth's topics held three times with min.insync.replicas 2; a node's host killed in
 * the middle of a stream of acks=all writes, and another's link cut for 20 s: every
 * acknowledged message is there once, and the node catches up when it returns.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { createLogger } from '../../common/index.js';
import { createKafka, ensureTopics, idempotentProducer, KafkaCluster, TOPICS } from '../../kafka/index.js';
import { canMakeHosts, TestNetwork } from '../../netns/index.js';
import { freePorts } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';
import { HEARTH_CLI } from '../../common/index.js';
import { PIPELINE_TOPICS } from '../../stack/index.js';

const run = promisify(execFile);

describe('Kafka as a three-node KRaft cluster', function () {
  this.timeout(240_000);
  let cluster: KafkaCluster;
  let dir: string;
  let net: TestNetwork | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-kafka-cluster-'));
    if (await canMakeHosts()) {
      net = new TestNetwork({ tag: 'kc', subnet: 2, hosts: ['kafka1', 'kafka2', 'kafka3'] });
      await net.up();
      const hosts = [...net.hosts.values()];
      cluster = new KafkaCluster({
        dir,
        nodes: hosts.map((h) => ({ host: h.address, port: 9092, controllerPort: 9093, wrap: ['ip', 'netns', 'exec', h.ns] })),
        partitions: 4,
      });
    } else {
      const ports = await freePorts(6);
      cluster = new KafkaCluster({
        dir,
        nodes: [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: ports[2 * i]!, controllerPort: ports[2 * i + 1]! })),
        partitions: 4,
      });
    }
    process.once('exit', () => {
      for (const n of cluster.nodes) {
        const pid = n.pid();
        if (pid) process.kill(pid, 'SIGKILL');
      }
    });
    await cluster.start();
  });

  after(async () => {
    await cluster?.stop();
    await net?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * 300 acks=all writes in sends of 6, each spanning partitions (led by different nodes),
   * as a worker's or the backfill's do; `fault` done before the 100th; then every
   * acknowledged message read back, none twice, and after `repair` every partition three
   * in sync again.
   */
  async function writesThrough(tag: string, fault: () => Promise<void>, repair: () => Promise<void>): Promise<void> {
    const kafka = createKafka(cluster.addresses, 'cluster-test', createLogger('cluster-test', 'silent'));
    const topic = TOPICS.uploaded;
    const producer = idempotentProducer(kafka);
    await producer.connect();
    const acked: string[] = [];
    for (let i = 0; i < 300; i += 6) {
      if (i === 102) await fault();
      const messages = Array.from({ length: 6 }, (_, j) => ({ key: String((i + j) % 7), value: `${tag}-${i + j}` }));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
      acked.push(...messages.map((m) => m.value));
    }
    await producer.disconnect();
    await repair();
    const seen = new Map<string, number>();
    const consumer = kafka.consumer({ groupId: `cluster-test-${tag}-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        const v = message.value!.toString();
        if (v.startsWith(`${tag}-`)) seen.set(v, (seen.get(v) ?? 0) + 1);
        return Promise.resolve();
      },
    });
    await until('every acknowledged message read', () => (acked.every((v) => seen.has(v)) ? true : undefined), 60_000).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${acked.filter((v) => !seen.has(v)).length} of ${acked.length} acknowledged and never read (${acked
          .filter((v) => !seen.has(v))
          .slice(0, 8)
          .join(', ')})`,
      );
    });
    await consumer.disconnect();
    assert.deepEqual(
      [...seen].filter(([, n]) => n > 1),
      [],
      'no message written twice',
    );
    const admin = kafka.admin();
    await admin.connect();
    try {
      await until(
        'three in sync everywhere',
        async () => ((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.every((p) => p.isr.length === 3) ? true : undefined),
        90_000,
      );
    } finally {
      await admin.disconnect();
    }
  }

  it("creates Hearth's topics with three copies of every partition and min.insync.replicas 2", async () => {
    const kafka = createKafka(cluster.addresses, 'cluster-test', createLogger('cluster-test', 'silent'));
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Each broker replays the cluster's metadata on its own, so the one kafkajs asks may
      // not know yet what another already does: every check here waits for agreement.
      await until('three brokers in the metadata', async () => ((await admin.describeCluster()).brokers.length === 3 ? true : undefined), 30_000);
      await ensureTopics(admin, { [TOPICS.uploaded]: 4, [TOPICS.takedown]: 4 });
      const meta = await until(
        'metadata of both topics',
        () => admin.fetchTopicMetadata({ topics: [TOPICS.uploaded, TOPICS.takedown] }).catch(() => undefined),
        30_000,
      );
      for (const t of meta.topics) for (const p of t.partitions) assert.equal(p.replicas.length, 3, `${t.name}[${p.partitionId}] replicas`);
      const configs = await until(
        'configs of both topics',
        () =>
          admin
            .describeConfigs({
              includeSynonyms: false,
              resources: [TOPICS.uploaded, TOPICS.takedown].map((name) => ({
                type: kafkajs.ConfigResourceTypes.TOPIC,
                name,
                configNames: ['min.insync.replicas', 'cleanup.policy'],
              })),
            })
            .catch(() => undefined),
        30_000,
      );
      const of = (topic: string, name: string) =>
        configs.resources.find((r) => r.resourceName === topic)?.configEntries.find((e) => e.configName === name)?.configValue;
      assert.equal(of(TOPICS.uploaded, 'min.insync.replicas'), '2');
      assert.equal(of(TOPICS.takedown, 'cleanup.policy'), 'compact', 'a compacted topic keeps its policy');
      // What a deployment runs once (no stack creates its topics): the rest of the pipeline's, then nothing.
      const topics = async () =>
        JSON.parse((await run(process.execPath, [HEARTH_CLI, 'kafka', 'topics', '--brokers', cluster.addresses.join(','), '--json'])).stdout) as {
          created: string[];
        };
      assert.deepEqual(
        (await topics()).created.sort(),
        Object.keys(PIPELINE_TOPICS)
          .filter((x) => x !== TOPICS.uploaded && x !== TOPICS.takedown)
          .sort(),
      );
      assert.deepEqual((await topics()).created, []);
      const all = await until(
        'metadata of every topic',
        () => admin.fetchTopicMetadata({ topics: Object.keys(PIPELINE_TOPICS) }).catch(() => undefined),
        30_000,
      );
      assert.deepEqual(
        Object.fromEntries(all.topics.map((x) => [x.name, x.partitions.length])),
        { ...PIPELINE_TOPICS, [TOPICS.uploaded]: 4, [TOPICS.takedown]: 4 },
        'existing topics left as they were',
      );
      assert.ok(
        all.topics.every((x) => x.partitions.every((p) => p.replicas.length === 3)),
        'three copies of each',
      );
    } finally {
      await admin.disconnect();
    }
  });

  it("loses and doubles nothing when a node's host dies in the middle of acks=all writes, and the node catches up when it is back", async () => {
    const victim = cluster.nodes[1]!;
    await writesThrough(
      'killed',
      async () => {
        if (net) assert.ok((await net.kill('kafka2')) >= 1);
        else process.kill(victim.pid()!, 'SIGKILL');
      },
      () => cluster.start(),
    );
  });

  it("loses and doubles nothing when a node's link is cut for 20 s (the process runs on), and the node catches up when it is back", async function () {
    if (!net) this.skip();
    const n = net;
    let mended: Promise<void> | undefined;
    await writesThrough(
      'cut',
      async () => {
        await n.cut('kafka3');
        mended = new Promise((r) => setTimeout(r, 20_000)).then(() => n.mend('kafka3'));
      },
      async () => {
        await mended;
        assert.ok(cluster.nodes[2]!.pid(), 'the cut node never stopped');
      },
    );
  });
});
