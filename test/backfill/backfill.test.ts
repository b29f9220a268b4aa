import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Consumer } from 'kafkajs';
import { listOriginals, readList, runBackfill } from '../../backfill/backfill.js';
import { DirStore } from '../../store/index.js';
import { TOPICS } from '../../kafka/client.js';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { testKafka } from '../helpers/test-kafka.js';
import { until } from '../helpers/until.js';

let nextId = 800000 + Math.floor(Math.random() * 100) * 1000;

function originals(n: number): { store: string; ids: string[] } {
  const store = mkdtempSync(join(tmpdir(), 'hearth-backfill-'));
  const ids = Array.from({ length: n }, () => String(nextId++));
  for (const id of ids) {
    const dir = join(store, 'originals', id.slice(0, -2));
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(FIXTURES, 'aqua.jpg'), join(dir, `${id}.jpg`));
  }
  return { store, ids };
}

describe('backfill through a real Kafka broker', function () {
  this.timeout(120000);
  let kafka: Kafka;
  let brokers: string;
  let consumer: Consumer;
  const seen = new Map<string, number>();

  before(async () => {
    const b = await testKafka();
    brokers = b.address;
    kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    if (!(await admin.listTopics()).includes(TOPICS.uploaded))
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPICS.uploaded, numPartitions: 4 }] });
    await admin.disconnect();
    consumer = kafka.consumer({ groupId: `backfill-watch-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.uploaded, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        const id = message.key?.toString() ?? '';
        seen.set(id, (seen.get(id) ?? 0) + 1);
        return Promise.resolve();
      },
    });
  });
  after(async () => {
    await consumer?.disconnect();
  });

  it('interrupted (Ctrl-C) and resumed, produces each image once', async () => {
    const { store, ids } = originals(30);
    // A JPEG that is not at its id's path is no entry: no tier would take it.
    copyFileSync(join(FIXTURES, 'aqua.jpg'), join(store, 'originals', '4242.jpg'));
    const { entries, misplaced } = await listOriginals(new DirStore(store));
    assert.deepEqual(
      entries.map((e) => e.id),
      ids,
    );
    assert.deepEqual(misplaced, ['/originals/4242.jpg']);
    const checkpoint = join(store, 'checkpoint.json');
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const abort = new AbortController();
    const first = await runBackfill({
      entries,
      producer,
      checkpoint,
      rate: 10000,
      batch: 5,
      signal: abort.signal,
      onProgress: (d) => d >= 10 && abort.abort(),
    });
    assert.equal(first, 10);
    const second = await runBackfill({ entries, producer, checkpoint, rate: 10000, batch: 5 });
    assert.equal(second, 30);
    await producer.disconnect();
    await until('all seen', () => (ids.every((id) => seen.has(id)) ? true : undefined), 20000);
    assert.ok(
      ids.every((id) => seen.get(id) === 1),
      'each exactly once',
    );
  });

  it('killed by SIGKILL and rerun, produces each image at least once and at most one batch twice', async () => {
    const { store, ids } = originals(40);
    const checkpoint = join(store, 'checkpoint.json');
    const run = () =>
      spawn(
        process.execPath,
        [HEARTH_CLI, 'backfill', '--store', store, '--brokers', brokers, '--rate', '40', '--batch', '4', '--checkpoint', checkpoint, '--no-progress'],
        { stdio: 'ignore' },
      );
    const done = (): number => (JSON.parse(readFileSync(checkpoint, 'utf8')) as { done: number }).done;
    let child = run();
    await until('a few batches acknowledged', () => (existsSync(checkpoint) && done() >= 12 ? true : undefined), 30000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const doneBefore = done();
    assert.ok(doneBefore < 40, 'killed before the end');
    child = run();
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
    assert.equal(done(), 40);
    await until('all seen', () => (ids.every((id) => seen.has(id)) ? true : undefined), 20000);
    const twice = ids.filter((id) => (seen.get(id) ?? 0) > 1);
    assert.ok(ids.every((id) => (seen.get(id) ?? 0) <= 2));
    assert.ok(twice.length <= 4, `${twice.length} sent twice: at most the batch in flight when killed`);
  });

  it('refuses a bad list and a checkpoint of another list, with clear errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-list-'));
    writeFileSync(join(dir, 'bad.txt'), '# originals\n12 /originals/0/12.jpg\nabc /x.jpg\n13 ../etc/passwd\n14 /originals/0/12.jpg\n');
    assert.throws(() => readList(join(dir, 'bad.txt')), /line 3: .*\n.*line 4: .*\n.*line 5: "\/originals\/0\/12\.jpg" is not the path of id 14/s);
    writeFileSync(join(dir, 'a.txt'), '12 /originals/0/12.jpg\n');
    writeFileSync(join(dir, 'b.txt'), '13 /originals/0/13.jpg\n');
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const checkpoint = join(dir, 'cp.json');
    await runBackfill({ entries: readList(join(dir, 'a.txt')), producer, checkpoint, rate: 1000, batch: 10 });
    await assert.rejects(runBackfill({ entries: readList(join(dir, 'b.txt')), producer, checkpoint, rate: 1000, batch: 10 }), /another list/);
    await producer.disconnect();
  });
});
