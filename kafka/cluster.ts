/**
 * Kafka as a cluster: KRaft nodes, each a broker and a controller voter, so the
 * controller quorum survives one node down; topics hold every partition on three nodes
 * (`min.insync.replicas` 2, so an acks=all write is on two before it is acknowledged,
 * and a node lost loses nothing). For the local stack's `kafka.peers` and the tests;
 * the single-node broker stays the embedded default.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLogger } from '../common/index.js';
import { createHash } from 'node:crypto';
import { KafkaBroker, KafkaBrokerError, newClusterId, type BrokerOptions } from './broker.js';
import { createKafka } from './client.js';

export interface KafkaNodeAddress {
  host: string;
  port: number;
  controllerPort: number;
  /** A command the node runs under: ['ip', 'netns', 'exec', NS] for a test host. */
  wrap?: readonly string[];
}

export interface KafkaClusterOptions {
  /** State directory: one sub-directory per node, and the cluster's id. */
  dir: string;
  nodes: readonly KafkaNodeAddress[];
  partitions?: number;
  /** Each node's heap (three JVMs share these machines' memory). */
  heapMb?: number;
}

/** Each node's broker options: node ids from 1 in order, every node a voter, three copies of each topic (fewer on a smaller cluster). */
export function clusterNodes(
  nodes: readonly KafkaNodeAddress[],
  clusterId: string,
  o: { dir: (i: number) => string; partitions?: number; heapMb?: number },
): BrokerOptions[] {
  const voters = nodes.map((n, i) => `${i + 1}@${n.host}:${n.controllerPort}`).join(',');
  const replication = Math.min(3, nodes.length);
  return nodes.map((n, i) => ({
    dir: o.dir(i),
    host: n.host,
    port: n.port,
    controllerPort: n.controllerPort,
    wrap: n.wrap,
    partitions: o.partitions,
    heapMb: o.heapMb ?? 384,
    cluster: { nodeId: i + 1, voters, clusterId, replication },
  }));
}

/**
 * A cluster id every host derives alike from the voters (`hearth deploy render` writes
 * each host alone, and a node formatted with another id would never join): 16 bytes of
 * their SHA-256, in base64url, never starting with '-' (kafka-storage would read an option).
 */
export function clusterIdFor(nodes: readonly KafkaNodeAddress[]): string {
  const voters = nodes.map((n, i) => `${i + 1}@${n.host}:${n.controllerPort}`).join(',');
  for (let salt = 0; ; salt++) {
    const id = createHash('sha256').update(`hearth-kraft:${voters}:${salt}`).digest().subarray(0, 16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export class KafkaCluster {
  readonly dir: string;
  readonly nodes: readonly KafkaBroker[];

  constructor(o: KafkaClusterOptions) {
    this.dir = resolve(o.dir);
    mkdirSync(this.dir, { recursive: true });
    // One id for every node, drawn once: a node formatted with another would never join.
    const idFile = join(this.dir, 'cluster.id');
    if (!existsSync(idFile)) writeFileSync(idFile, `${newClusterId()}\n`);
    const clusterId = readFileSync(idFile, 'utf8').trim();
    this.nodes = clusterNodes(o.nodes, clusterId, { partitions: o.partitions, heapMb: o.heapMb, dir: (i) => join(this.dir, `node-${i + 1}`) }).map(
      (b) => new KafkaBroker(b),
    );
  }

  /** Bootstrap addresses: every node's. */
  get addresses(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /**
   * Starts every node that is not running, together (none answers before a quorum of
   * voters is up), then waits until every broker has registered with the controllers: a
   * node that accepts connections may not be in the cluster yet, and a topic created then
   * would find too few brokers for its three copies.
   */
  async start(timeoutMs = 90_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    await Promise.all(this.nodes.map((n) => n.start(timeoutMs)));
    const admin = createKafka(this.addresses, 'hearth-cluster-start', createLogger('kafka-cluster', 'silent')).admin();
    await admin.connect();
    try {
      let brokers = 0;
      while ((brokers = (await admin.describeCluster()).brokers.length) < this.nodes.length) {
        if (Date.now() > end)
          throw new KafkaBrokerError(`only ${brokers} of ${this.nodes.length} Kafka nodes joined the cluster; see ${this.dir}/node-*/kafka.log`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  pid(): number | undefined {
    return this.nodes.map((n) => n.pid()).find((p) => p !== undefined);
  }
}
