/**
 * A full store leaves no litter: on a small tmpfs the test mounts, every write that
 * fails for want of space removes its temp file at once, the resize tier waits (a
 * transient failure) instead of dead-lettering, and finishes once space is back; a
 * sweep at start removes what a crashed writer left.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import { createLogger } from '../../common/index.js';
import { DEFAULT_LADDER, imagePath, originalPath } from '../../image/index.js';
import { DirStore } from '../../store/index.js';
import { TOPICS } from '../../kafka/index.js';
import { ResizeWorker, loadResizeConfig } from '../../resize/index.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { ensureTestTopics, testKafka, watchTopics } from '../helpers/test-kafka.js';
import { until } from '../helpers/until.js';

/** Every temp file under `dir`, wherever it is. */
function temps(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.tmp-/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** Fills the filesystem of `dir` to the last block with one file; returns it, to be removed when space should come back. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  const st = statfsSync(dir);
  writeFileSync(file, Buffer.alloc(Number(st.bavail) * Number(st.bsize)));
  return file;
}

describe('a full store', function () {
  this.timeout(120000);
  let root: string;
  let mounted = false;

  before(function () {
    root = mkdtempSync(join(tmpdir(), 'hearth-full-store-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', root], { stdio: 'ignore' });
      mounted = true;
    } catch {
      // Mounting needs root (CI and the developers' machines have it): without, nothing here can be shown.
      this.skip();
    }
  });
  after(() => {
    if (mounted) execFileSync('umount', [root]);
    rmSync(root, { recursive: true, force: true });
  });

  it('a failed write or create removes its temp file at once', async () => {
    const filler = fill(root);
    try {
      const data = Buffer.alloc(256 * 1024, 7);
      await assert.rejects(new DirStore(root).put(imagePath('4200', 'z'), data), { code: 'ENOSPC' });
      await assert.rejects(new DirStore(root).putIfAbsent(originalPath('4201'), data), { code: 'ENOSPC' });
      assert.deepEqual(temps(root), []);
    } finally {
      rmSync(filler);
    }
  });

  it('the resize tier waits out a full store (no dead letter, no temp file), and finishes when space is back', async () => {
    const brokers = [(await testKafka()).address];
    const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    await ensureTestTopics(kafka, [TOPICS.accepted, TOPICS.resized, TOPICS.dead]);
    const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const id = String(880000 + Math.floor(Math.random() * 10000));
    const sizes: string[] = [];
    const dead: string[] = [];
    const watcher: Consumer = await watchTopics(kafka, [TOPICS.resized, TOPICS.dead], (topic, v) => {
      if (topic === TOPICS.resized && v.id === id) sizes.push(String(v.size));
      if (topic === TOPICS.dead && v.key === id) dead.push(String(v.reason));
    });
    mkdirSync(dirname(join(root, originalPath(id))), { recursive: true });
    copyFileSync(join(FIXTURES, 'garden.jpg'), join(root, originalPath(id)));
    // A crashed writer's leftover (pid 0 never runs a writer) and a live one's (this process): the sweep at start takes the first only.
    mkdirSync(new DirStore(root).tempDir, { recursive: true });
    writeFileSync(join(new DirStore(root).tempDir, 'x_z.jpg.tmp-0-deadbeef'), 'left by a crash');
    writeFileSync(join(new DirStore(root).tempDir, `y_z.jpg.tmp-${process.pid}-0123abcd`), 'being written');
    const base = loadResizeConfig();
    const w = new ResizeWorker(
      loadResizeConfig(undefined, {
        store: root,
        storedSizes: DEFAULT_LADDER.map((s) => s.name),
        kafka: { ...base.kafka, brokers, groupId: `g-full-${Date.now()}`, partitions: 4 },
        http: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
      }),
      { logger: createLogger('resize-test', 'silent') },
    );
    const addr = await w.start();
    assert.deepEqual(readdirSync(new DirStore(root).tempDir), [`y_z.jpg.tmp-${process.pid}-0123abcd`]);
    rmSync(join(new DirStore(root).tempDir, `y_z.jpg.tmp-${process.pid}-0123abcd`));
    const filler = fill(root);
    try {
      await producer.send({ topic: TOPICS.accepted, messages: [{ key: id, value: JSON.stringify({ id, source: originalPath(id) }) }] });
      const retries = async () => {
        const text = await (await fetch(`http://127.0.0.1:${addr.port}/metrics`)).text();
        return Number(/hearth_kafka_consumer_retries_total\{[^}]*kind="transient"\} (\d+)/.exec(text)?.[1] ?? 0);
      };
      await until('retried for want of space', async () => ((await retries()) >= 3 ? true : undefined), 60000);
      assert.deepEqual(temps(root), []);
      assert.deepEqual(dead, []);
      rmSync(filler);
      await until('every size once space is back', () => (DEFAULT_LADDER.every((s) => sizes.includes(s.name)) ? true : undefined), 60000);
      assert.deepEqual(temps(root), []);
      assert.deepEqual(dead, []);
    } finally {
      rmSync(filler, { force: true });
      await w.stop();
      await watcher.disconnect();
      await producer.disconnect();
    }
  });
});
