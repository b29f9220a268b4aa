/** The resize tier through a real Kafka broker, on real photographs. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import sharp from 'sharp';
import { imagePath, originalPath } from '../../image/store.js';
import { TOPICS } from '../../kafka/client.js';
import { loadResizeConfig } from '../../resize/config.js';
import { DEFAULT_LADDER } from '../../image/ladder.js';
import { ResizeWorker } from '../../resize/worker.js';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { FIXTURES, freePorts } from '../helpers/test-stack.js';
import { testKafka, watchTopics } from '../helpers/test-kafka.js';
import { until } from '../helpers/until.js';
import { createLogger } from '../../common/logger.js';

/** These tests check every size the tier can make: all of them stored. */
const ALL_SIZES = DEFAULT_LADDER.map((s) => s.name);

const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
let nextId = 700000 + Math.floor(Math.random() * 100) * 1000;

describe('resize tier through a real Kafka broker', function () {
  this.timeout(120000);
  let brokers: string[];
  let kafka: Kafka;
  let producer: Producer;
  const events: { id: string; size: string; width: number; height: number }[] = [];
  const dead: { reason: string; key: string | null }[] = [];
  let watcher: Consumer;

  /** A store holding the fixture photographs as originals, under fresh ids. */
  function store(n = 3): { root: string; ids: string[] } {
    const root = mkdtempSync(join(tmpdir(), 'hearth-store-'));
    mkdirSync(join(root, 'originals'), { recursive: true });
    const photos = readdirSync(FIXTURES).filter((f) => f.endsWith('.jpg'));
    const ids = Array.from({ length: n }, (_, i) => {
      const id = String(nextId++);
      mkdirSync(dirname(join(root, originalPath(id))), { recursive: true });
      copyFileSync(join(FIXTURES, photos[i % photos.length] as string), join(root, originalPath(id)));
      return id;
    });
    return { root, ids };
  }
  const upload = (id: string, source = originalPath(id)) => ({ key: id, value: JSON.stringify({ id, source }) });
  async function worker(root: string, groupId: string): Promise<ResizeWorker> {
    const base = loadResizeConfig();
    const w = new ResizeWorker(
      loadResizeConfig(undefined, {
        store: root,
        storedSizes: ALL_SIZES,
        kafka: { ...base.kafka, brokers, groupId, partitions: 4 },
        http: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
      }),
      { logger: createLogger('resize-test', 'silent') },
    );
    await w.start();
    return w;
  }

  before(async () => {
    const broker = await testKafka();
    brokers = [broker.address];
    kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const existing = await admin.listTopics();
    const wanted = [TOPICS.accepted, TOPICS.resized, TOPICS.dead].filter((t) => !existing.includes(t));
    if (wanted.length)
      await admin.createTopics({ waitForLeaders: true, topics: wanted.map((topic) => ({ topic, numPartitions: topic === TOPICS.dead ? 1 : 4 })) });
    await admin.disconnect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    watcher = await watchTopics(kafka, [TOPICS.resized, TOPICS.dead], (topic, v) => {
      if (topic === TOPICS.resized) events.push(v as (typeof events)[number]);
      else dead.push({ reason: String(v.reason), key: (v.key as string | null) ?? null });
    });
  });
  after(async () => {
    await watcher?.disconnect();
    await producer?.disconnect();
  });

  it('makes every size of each upload, with the right dimensions, decodable, and emits its events', async () => {
    const { root, ids } = store(3);
    const w = await worker(root, `g-sizes-${Date.now()}`);
    try {
      await producer.send({ topic: TOPICS.accepted, messages: ids.map((id) => upload(id)) });
      await until('all events', () => (ids.every((id) => events.filter((e) => e.id === id).length === DEFAULT_LADDER.length) ? true : undefined), 60000);
      for (const id of ids) {
        const orig = await sharp(join(root, originalPath(id))).metadata();
        for (const spec of DEFAULT_LADDER) {
          const m = await sharp(join(root, imagePath(id, spec.name))).metadata();
          const e = events.find((x) => x.id === id && x.size === spec.name)!;
          assert.equal(m.format, 'jpeg');
          assert.deepEqual([e.width, e.height], [m.width, m.height]);
          if (spec.square) assert.deepEqual([m.width, m.height], [spec.size, spec.size]);
          else assert.equal(Math.max(m.width, m.height), Math.min(spec.size, Math.max(orig.width, orig.height)), `${id} ${spec.name}`);
          assert.equal(m.exif, undefined, 'no metadata kept');
        }
      }
      const metrics = w.metrics;
      assert.equal((await metrics.images.get()).values[0]?.value, 3);
    } finally {
      await w.stop();
    }
  });

  it('a poison message lands in the dead-letter topic and the partition moves on', async () => {
    const { root, ids } = store(2);
    const w = await worker(root, `g-poison-${Date.now()}`);
    try {
      const [good, missing] = ids as [string, string];
      const truncated = String(nextId++);
      const absent = String(nextId++);
      writeFileSync(join(root, originalPath(truncated)), readFileSync(join(root, originalPath(good))).subarray(0, 500));
      // Same key, so same partition: the good upload sits behind the poison ones.
      await producer.send({
        topic: TOPICS.accepted,
        messages: [
          { key: good, value: 'not json' },
          { key: good, value: JSON.stringify({ id: good, source: '/../../etc/passwd' }) },
          { key: good, value: JSON.stringify({ id: truncated, source: originalPath(truncated) }) },
          { key: good, value: JSON.stringify({ id: absent, source: originalPath(absent) }) },
          // A stored id's message pointing at another image's original: never that image's bytes under this id.
          { key: good, value: JSON.stringify({ id: missing, source: originalPath(good) }) },
          upload(good),
        ],
      });
      await until('good upload done', () => (events.filter((e) => e.id === good).length === DEFAULT_LADDER.length ? true : undefined), 60000);
      const mine = dead.filter((d) => d.key === good);
      assert.deepEqual(mine.map((d) => d.reason).sort(), ['corrupt_source', 'invalid_message', 'invalid_message', 'invalid_message', 'missing_source']);
      assert.ok(!existsSync(join(root, imagePath(missing, 'k'))));
    } finally {
      await w.stop();
    }
  });

  it('no source stops the tier: a FIFO, a directory and a 3 GiB file are dead-lettered with their reasons, the upload behind them is resized, /healthz and /readyz stay 200', async () => {
    const { root, ids } = store(1);
    const good = ids[0] as string;
    const [fifo, dir, huge] = [String(nextId++), String(nextId++), String(nextId++)];
    for (const id of [fifo, dir, huge]) mkdirSync(dirname(join(root, originalPath(id))), { recursive: true });
    execFileSync('mkfifo', [join(root, originalPath(fifo))]);
    mkdirSync(join(root, originalPath(dir)));
    writeFileSync(join(root, originalPath(huge)), '');
    truncateSync(join(root, originalPath(huge)), 3 * 2 ** 30); // sparse: no disk, but over 2 GiB
    const base = loadResizeConfig();
    const w = new ResizeWorker(
      loadResizeConfig(undefined, {
        store: root,
        storedSizes: ALL_SIZES,
        kafka: { ...base.kafka, brokers, groupId: `g-hostile-${Date.now()}`, partitions: 4 },
        http: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
      }),
      { logger: createLogger('resize-test', 'silent') },
    );
    const addr = await w.start();
    try {
      // One key: the good upload waits behind all three on one partition.
      await producer.send({
        topic: TOPICS.accepted,
        messages: [fifo, dir, huge, good].map((id) => ({ key: good, value: JSON.stringify({ id, source: originalPath(id) }) })),
      });
      await until('good upload done', () => (events.filter((e) => e.id === good).length === DEFAULT_LADDER.length ? true : undefined), 60000);
      await until('three dead letters', () => (dead.filter((d) => d.key === good).length === 3 ? true : undefined), 10000);
      assert.deepEqual(
        dead
          .filter((d) => d.key === good)
          .map((d) => d.reason)
          .sort(),
        ['irregular_source', 'irregular_source', 'oversized_source'],
      );
      for (const path of ['/healthz', '/readyz']) assert.equal((await fetch(`http://127.0.0.1:${addr.port}${path}`)).status, 200, path);
    } finally {
      await w.stop();
    }
  });

  it('redelivery rewrites identical bytes', async () => {
    const { root, ids } = store(1);
    const base = loadResizeConfig();
    const w = new ResizeWorker(loadResizeConfig(undefined, { store: root, storedSizes: ALL_SIZES, kafka: { ...base.kafka, brokers } }), {
      logger: createLogger('resize-test', 'silent'),
    });
    const id = ids[0] as string;
    const first = await w.resizeAll({ id, source: originalPath(id) });
    const hashes = DEFAULT_LADDER.map((s) => sha(join(root, imagePath(id, s.name))));
    const second = await w.resizeAll({ id, source: originalPath(id) });
    assert.deepEqual(second, first);
    assert.deepEqual(
      DEFAULT_LADDER.map((s) => sha(join(root, imagePath(id, s.name)))),
      hashes,
    );
  });

  it('a worker killed mid-batch and restarted loses nothing and corrupts nothing', async () => {
    const { root, ids } = store(12);
    const group = `g-kill-${Date.now()}`;
    const [httpPort] = await freePorts(1);
    const start = () =>
      spawn(
        process.execPath,
        [HEARTH_CLI, 'resize', '--config', join(root, 'resize.json'), '--store', root, '--brokers', brokers.join(','), '--http', String(httpPort)],
        { stdio: 'ignore' },
      );
    // The broker's minimum session timeout: the killed worker's partitions come back sooner.
    // Variants of two sizes: their files are checked as the sizes are, at a fraction of every size's searches.
    writeFileSync(
      join(root, 'resize.json'),
      JSON.stringify({ kafka: { groupId: group, sessionTimeoutMs: 6000 }, storedSizes: ALL_SIZES, variants: { sizes: ['n', 's'] } }),
    );
    await producer.send({ topic: TOPICS.accepted, messages: ids.map((id) => upload(id)) });
    let child = start();
    // Kill it once some, but not all, images have sizes on disk (killed whatever happens: a child left running would hold mocha open).
    await until('some sizes written', () => (ids.some((id) => existsSync(join(root, imagePath(id, 'k')))) ? true : undefined), 60000).finally(() =>
      child.kill('SIGKILL'),
    );
    await new Promise((r) => child.once('exit', r));
    assert.ok(!ids.every((id) => events.filter((e) => e.id === id).length === DEFAULT_LADDER.length), 'killed before the batch finished');
    child = start();
    try {
      await until('all uploads done after restart', () => (ids.every((id) => events.some((e) => e.id === id && e.size === 's')) ? true : undefined), 90000);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    for (const id of ids) {
      for (const spec of DEFAULT_LADDER) {
        // Every scan decoded: a half-written file under a final name fails here, not only a bad header.
        const file = join(root, imagePath(id, spec.name));
        assert.equal((await sharp(file).metadata()).format, 'jpeg');
        await assert.doesNotReject(sharp(file, { failOn: 'error' }).raw().toBuffer(), `${file} does not decode whole`);
      }
    }
    // Nothing half-written under a final name: only complete files (sizes and the variants beside them) or leftover temp names.
    const dir = join(root, 'photos');
    for (const d of readdirSync(dir))
      for (const f of readdirSync(join(dir, d))) {
        assert.match(f, /^\d+_[a-z]+\.(jpg|avif|webp)(\.tmp-.*)?$/);
        if (/\.(avif|webp)$/.test(f))
          await assert.doesNotReject(
            sharp(join(dir, d, f), { failOn: 'error' })
              .raw()
              .toBuffer(),
            `${f} does not decode whole`,
          );
      }
  });
});
