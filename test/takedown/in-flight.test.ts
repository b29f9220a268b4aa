/**
 * The race a takedown must win: a cache's fetch from the origin that began before the
 * delete and ends after the first purge stores the photo again. Made deterministic with
 * a gate between the cache and the origin that holds one answer until the test lets it
 * go: real nginx cache node, real origin service, real broker, the purger in process.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { request } from 'undici';
import { closeServer, createLogger, listen } from '../../common/index.js';
import { imagePath, originalPath } from '../../image/index.js';
import { TOPICS, connectProducer } from '../../kafka/index.js';
import { OriginServer } from '../../origin/index.js';
import { CACHE_LEVELS, NginxInstance, renderCache } from '../../proxy-config/index.js';
import { DirStore, storeFile } from '../../store/index.js';
import { Purger, deleteAndAnnounce, loadPurgerConfig } from '../../takedown/index.js';
import { parseTopology } from '../../topology/index.js';
import { testKafka, watchTopics } from '../helpers/test-kafka.js';
import { FIXTURES, freePorts } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

describe('a fetch in flight at the takedown (slow origin, real nginx, real broker)', function () {
  this.timeout(120_000);
  const id = '990000001';
  const path = imagePath(id, 'z');
  let root: string;
  let origin: OriginServer;
  let gate: Server;
  let node: NginxInstance;
  let purger: Purger;
  let producer: Producer;
  let watcher: Consumer | undefined;
  /** While set, the gate holds every answer of the origin until it is called. */
  let held: Promise<void> | undefined;
  let release: () => void = () => {};
  let answered = 0;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-inflight-'));
    root = join(dir, 'store');
    for (const p of [originalPath(id), path]) {
      mkdirSync(join(storeFile(root, p), '..'), { recursive: true });
      copyFileSync(join(FIXTURES, 'ladybird.jpg'), storeFile(root, p));
    }
    origin = new OriginServer({
      store: root,
      host: '127.0.0.1',
      port: 0,
      storeDerived: true,
      maxConcurrent: 2,
      maxQueue: 4,
      encode: { quality: 85, progressive: true, chromaSubsampling: '4:2:0' },
      logger: createLogger('origin', 'silent'),
    });
    const o = await origin.start();
    // The gate asks the origin at once and holds its answer: the origin decided before the delete.
    gate = createServer((req, res) => {
      void (async () => {
        const up = await request(`http://127.0.0.1:${o.port}${req.url ?? '/'}`, { method: req.method === 'HEAD' ? 'HEAD' : 'GET' });
        const body = Buffer.from(await up.body.arrayBuffer());
        answered++;
        await held;
        res.writeHead(up.statusCode, {
          'content-type': String(up.headers['content-type'] ?? 'text/plain'),
          'content-length': String(body.length),
          ...(up.headers['cache-control'] ? { 'cache-control': String(up.headers['cache-control']) } : {}),
        });
        res.end(body);
      })();
    });
    const [gatePort, nodePort] = await freePorts(2);
    await listen(gate, gatePort!, '127.0.0.1');
    const t = parseTopology({
      origin: { listen: `127.0.0.1:${gatePort}`, root },
      colos: [{ name: 'inflight', host: 'cache-inflight.test', nodes: [`127.0.0.1:${nodePort}`] }],
    });
    node = new NginxInstance(renderCache(t, t.colos[0]!, 0, join(dir, 'cache-inflight-0')));
    node.write();
    await node.test();
    await node.start();
    const brokers = [(await testKafka()).address];
    producer = await connectProducer(brokers, 'inflight-test', createLogger('t', 'silent'), { [TOPICS.takedown]: 4, [TOPICS.purged]: 4 });
    purger = new Purger(
      loadPurgerConfig(undefined, {
        colos: [{ name: 'inflight', nodes: [{ name: 'cache-inflight-0', cacheDir: join(dir, 'cache-inflight-0', 'cache'), levels: CACHE_LEVELS }] }],
        repurgeAfterMs: 5000,
        kafka: { brokers, groupId: `inflight-${Date.now()}`, partitions: 4 },
        http: { host: '127.0.0.1', port: 0 },
        log: { level: 'warn' },
      }),
    );
    await purger.start();
    watcher = await watchTopics(new Kafka({ brokers, logLevel: logLevel.NOTHING }), [TOPICS.purged], (_t, v) => purged.push(v));
  });

  after(async () => {
    release();
    await watcher?.disconnect();
    await purger?.stop();
    await producer?.disconnect();
    await node?.stop();
    if (gate) await closeServer(gate);
    await origin?.stop();
  });

  const view = async (): Promise<{ status: number; cache: string }> => {
    const r = await request(`http://${node.inst.listen}${path}`, { headers: { host: 'img.test' } });
    await r.body.dump();
    return { status: r.statusCode, cache: String(r.headers['x-cache-status']) };
  };
  /** This photo's passes, from the purger's own records (the shared broker holds other tests' takedowns, which the purger replays too). */
  const purged: { id?: unknown; pass?: unknown }[] = [];
  const passed = (n: number): true | undefined => (purged.some((v) => v.id === id && v.pass === n) ? true : undefined);

  it('the first pass cannot stop it (the photo is cached again after it); the second pass removes it, and then every view is 410', async () => {
    held = new Promise((r) => (release = r));
    const inFlight = view();
    await until("the origin answered the viewer's fetch (held at the gate)", () => (answered >= 1 ? true : undefined), 10_000);
    await deleteAndAnnounce(new DirStore(root), producer, id, 'the in-flight test');
    await until('pass 1 done', () => passed(1), 20_000);
    release();
    held = undefined;
    assert.deepEqual(await inFlight, { status: 200, cache: 'MISS' }, 'the fetch that began before the delete ends with the photo');
    assert.deepEqual(await view(), { status: 200, cache: 'HIT' }, 'and nginx stored it after the first pass: the race is real');
    await until('pass 2 done', () => passed(2), 20_000);
    assert.deepEqual(await view(), { status: 410, cache: 'MISS' }, 'after the second pass: gone');
    assert.deepEqual(await view(), { status: 410, cache: 'MISS' }, '410 is never cached');
  });
});
