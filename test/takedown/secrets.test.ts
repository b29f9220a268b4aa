import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { request } from 'undici';
import { createLogger } from '../../common/index.js';
import { imagePath, originalPath, readSecrets, secretPaths, secretsPath } from '../../image/index.js';
import { TOPICS, connectProducer } from '../../kafka/index.js';
import { OriginServer } from '../../origin/index.js';
import { DirStore, storeFile } from '../../store/index.js';
import { migrateToSecrets } from '../../takedown/index.js';
import { testKafka, watchTopics } from '../helpers/test-kafka.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

describe('a store from before secrets, migrated (hearth secret migrate; real broker, real origin service)', function () {
  this.timeout(60_000);
  let producer: Producer;
  before(async () => {
    producer = await connectProducer([(await testKafka()).address], 'secrets-test', createLogger('t', 'silent'), { [TOPICS.takedown]: 4 });
  });
  after(() => producer?.disconnect());

  it('serves a photo under its store paths until it has secrets, then only under its secret paths; every photo migrated once, each announced for a purge', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-secrets-'));
    const ids = ['700001', '700002'];
    for (const id of ids) {
      for (const p of [originalPath(id), imagePath(id, 'z')]) {
        mkdirSync(join(storeFile(root, p), '..'), { recursive: true });
        copyFileSync(join(FIXTURES, 'ladybird.jpg'), storeFile(root, p));
      }
    }
    const store = new DirStore(root);
    const origin = new OriginServer({
      store: root,
      host: '127.0.0.1',
      port: 0,
      storeDerived: false,
      maxConcurrent: 1,
      maxQueue: 4,
      encode: { quality: 85, progressive: true, chromaSubsampling: '4:2:0' },
      logger: createLogger('origin', 'silent'),
    });
    const { port } = await origin.start();
    const status = async (path: string): Promise<number> => {
      const r = await request(`http://127.0.0.1:${port}${path}`);
      await r.body.dump();
      return r.statusCode;
    };
    const refreshes: string[] = [];
    const { Kafka, logLevel } = await import('kafkajs');
    const watcher = await watchTopics(new Kafka({ brokers: [(await testKafka()).address], logLevel: logLevel.NOTHING }), [TOPICS.takedown], (_t, v) => {
      if (v.action === 'refresh' && ids.includes(v.id as string)) refreshes.push(v.id as string);
    });
    try {
      assert.equal(await status(imagePath('700001', 'z')), 200, 'from before secrets: its store path');
      assert.equal(await migrateToSecrets(store, producer), 2);
      assert.equal(await migrateToSecrets(store, producer), 0, 'once');
      for (const id of ids) {
        const s = (await readSecrets(store, id))!;
        assert.match(s.size, /^[0-9a-f]{16}$/);
        assert.notEqual(s.size, s.original);
        const [z, original] = [secretPaths(id, s).find((x) => x.endsWith('_z.jpg'))!, secretPaths(id, s).at(-1)!];
        assert.deepEqual([await status(imagePath(id, 'z')), await status(originalPath(id)), await status(z), await status(original)], [404, 404, 200, 200]);
        // A secrets record is no served path.
        assert.equal(await status(secretsPath(id)), 404);
      }
      await until('a refresh for each', () => (ids.every((id) => refreshes.includes(id)) ? true : undefined), 20_000);
    } finally {
      await watcher.disconnect();
      await origin.stop();
    }
  });
});
