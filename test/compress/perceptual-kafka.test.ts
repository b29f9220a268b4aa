/** Perceptual compression of resizes through a real Kafka broker; no generation loss on redelivery. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Producer, type Consumer } from 'kafkajs';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { createLogger } from '../../common/logger.js';
import { imagePath } from '../../image/store.js';
import { storeFile } from '../../store/index.js';
import { writeAtomic } from '../../common/atomic-write.js';
import { loadCompressConfig } from '../../compress/config.js';
import { PerceptualWorker } from '../../compress/perceptual-worker.js';
import { TOPICS } from '../../kafka/client.js';
import { compressedValidator, deadLetterValidator, type Compressed } from '../../kafka/messages.js';
import { CpuBackend } from '../../image/cpu-backend.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { testKafka, watchTopics } from '../helpers/test-kafka.js';
import { until } from '../helpers/until.js';

async function raw(jpeg: Buffer) {
  const { data, info } = await sharp(jpeg).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

describe('perceptual compression through a real Kafka broker', function () {
  this.timeout(120000);
  let producer: Producer;
  let watcher: Consumer;
  let worker: PerceptualWorker;
  let root: string;
  const compressed: Compressed[] = [];
  const dead: string[] = [];
  const originals = new Map<string, Buffer>();
  const events: { id: string; size: string; path: string; bytes: number; width: number; height: number }[] = [];

  before(async () => {
    const broker = await testKafka();
    const kafka = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING });
    root = mkdtempSync(join(tmpdir(), 'hearth-compress-'));
    const backend = new CpuBackend(1);
    let id = 900000 + Math.floor(Math.random() * 100) * 100;
    for (const photo of ['garden.jpg', 'ladybird.jpg']) {
      for (const [size, name] of [
        [640, 'z'],
        [320, 'n'],
      ] as const) {
        const out = await backend.resize(
          readFileSync(join(FIXTURES, photo)),
          { size, square: false },
          { quality: 85, progressive: true, chromaSubsampling: '4:2:0' },
        );
        const path = imagePath(id, name);
        await writeAtomic(storeFile(root, path), out.data);
        originals.set(path, out.data);
        events.push({ id: String(id), size: name, path, bytes: out.data.length, width: out.width, height: out.height });
      }
      id++;
    }
    worker = new PerceptualWorker(
      loadCompressConfig(undefined, {
        store: root,
        kafka: { brokers: [broker.address], groupId: `compress-${Date.now()}`, sessionTimeoutMs: 6000, partitions: 4 },
        http: { host: '127.0.0.1', port: 0 },
      }),
      { logger: createLogger('compress-test', 'silent') },
    );
    await worker.start();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    watcher = await watchTopics(kafka, [TOPICS.compressed, TOPICS.dead], (topic, v) => {
      // Every event on the wire passes its topic's schema.
      if (topic === TOPICS.compressed) {
        assert.ok(compressedValidator.is(v), compressedValidator.problems(v).join('; '));
        compressed.push(v);
      } else {
        assert.ok(deadLetterValidator.is(v), deadLetterValidator.problems(v).join('; '));
        dead.push(v.reason);
      }
    });
  });
  after(async () => {
    await watcher?.disconnect();
    await producer?.disconnect();
    await worker?.stop();
  });

  const mine = (path: string) => compressed.filter((c) => c.path === path);

  it('replaces each resize with a smaller JPEG that keeps SSIM at the target, and emits hearth.images.compressed', async () => {
    await producer.send({ topic: TOPICS.resized, messages: events.map((e) => ({ key: e.id, value: JSON.stringify(e) })) });
    await until('compressed events', () => (events.every((e) => mine(e.path).length >= 1) ? true : undefined), 60000);
    for (const e of events) {
      const now = readFileSync(storeFile(root, e.path));
      const c = mine(e.path)[0]!;
      assert.equal(c.bytesAfter, now.length);
      assert.ok(c.bytesAfter <= c.bytesBefore);
      const score = ssim(await raw(originals.get(e.path)!), await raw(now), { ssim: 'bezkrovny', downsample: false }).mssim;
      assert.ok(score >= 0.985, `${e.path}: SSIM ${score}`);
    }
    assert.ok(
      events.some((e) => mine(e.path)[0]!.bytesAfter < mine(e.path)[0]!.bytesBefore),
      'something was saved',
    );
  });

  it('a redelivered event does not recompress a compressed file (no generation loss) and emits an equivalent event', async () => {
    const before = new Map(events.map((e) => [e.path, readFileSync(storeFile(root, e.path))]));
    await producer.send({ topic: TOPICS.resized, messages: events.map((e) => ({ key: e.id, value: JSON.stringify(e) })) });
    await until('second events', () => (events.every((e) => mine(e.path).length >= 2) ? true : undefined), 60000);
    for (const e of events) {
      assert.ok(readFileSync(storeFile(root, e.path)).equals(before.get(e.path)!), `${e.path} changed on redelivery`);
      const [a, ...again] = mine(e.path) as [Compressed, ...Compressed[]];
      for (const b of again) assert.deepEqual(b, a);
    }
    // Each path was compressed (or kept) once; every later delivery, ours or one the group
    // redelivered itself after a rebalance under load, is counted `already`.
    const results = async () => new Map((await worker.metrics.images.get()).values.map((v) => [v.labels.result, v.value]));
    const r = await results();
    assert.equal((r.get('compressed') ?? 0) + (r.get('kept') ?? 0), events.length);
    await until(
      'every delivery after the first counted already',
      async () => {
        const later = events.reduce((n, e) => n + mine(e.path).length - 1, 0);
        const already = (await results()).get('already') ?? 0;
        return already === later && already >= events.length ? true : undefined;
      },
      30000,
    );
  });

  it('a bad event goes to the dead-letter topic and the partition moves on', async () => {
    const deadBefore = dead.length;
    const e = events[0]!;
    // A FIFO where a resize should be (its open would block a thread for good), and a sparse 3 GiB one.
    const fifo = imagePath('3', e.size);
    mkdirSync(dirname(storeFile(root, fifo)), { recursive: true });
    execFileSync('mkfifo', [storeFile(root, fifo)]);
    const huge = imagePath('4', e.size);
    writeFileSync(storeFile(root, huge), '');
    truncateSync(storeFile(root, huge), 3 * 2 ** 30);
    await producer.send({
      topic: TOPICS.resized,
      messages: [
        { key: e.id, value: '{not json' },
        // Another image's path under this id: never compressed (or served) as this id's.
        { key: e.id, value: JSON.stringify({ ...e, path: '/photos/1/1_z.jpg' }) },
        { key: e.id, value: JSON.stringify({ ...e, id: '1', path: imagePath('1', e.size) }) },
        { key: e.id, value: JSON.stringify({ ...e, id: '3', path: fifo }) },
        { key: e.id, value: JSON.stringify({ ...e, id: '4', path: huge }) },
        { key: e.id, value: JSON.stringify(e) },
      ],
    });
    // The dead letters are read by a consumer of their own, which may come after the worker's event.
    await until('moved on, all dead-lettered', () => (mine(e.path).length >= 3 && dead.length - deadBefore >= 5 ? true : undefined), 60000);
    assert.deepEqual(dead.slice(deadBefore).sort(), ['invalid_message', 'invalid_message', 'irregular_file', 'missing_file', 'oversized_file']);
  });
});
