/**
 * The whole pipeline on the volumes store: a stack whose topology has a store service,
 * the fixture corpus imported into it at `up`; every imported path served byte-identical
 * through the origin and a cache; an upload through the store service resized and
 * compressed by the workers into the volumes; the store a Prometheus target. A stack of
 * its own (broker, workers, Prometheus), stopped when these tests end.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { scrape } from '../../common/prom-text.js';
import { PANELS } from '../../dashboard/panels.js';
import { storedLadder } from '../../image/ladder.js';
import { imagePath } from '../../image/store.js';
import { Stack, type StackStatus } from '../../stack/stack.js';
import { HttpStore } from '../../store/index.js';
import { storeSpec, type Topology } from '../../topology/topology.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { assertCorpusServed, upStoreStack, type StoreStack } from '../helpers/store-stack.js';
import { panelsWithoutData } from '../helpers/panels-without-data.js';
import { until } from '../helpers/until.js';

/** What the resize tier stores at upload by default; the origin makes the rest on demand. */
const STORED = storedLadder();

const run = promisify(execFile);

describe('the whole pipeline on the volumes store (the store service)', function () {
  this.timeout(240_000);
  let stack: Stack;
  let t: Topology;
  let root: string;
  let store: HttpStore;
  let up: StoreStack<HttpStore> | undefined;

  before(async () => {
    up = await upStoreStack({
      name: 'volumes',
      idsPerPhoto: 2,
      section: (dir, spare) => ({ store: { listen: spare(0), metrics: spare(1), dir: join(dir, 'volumes') } }),
      open: (spec) => new HttpStore(spec),
    });
    ({ t, root, stack, store } = up);
  });

  after(() => up?.down());

  it('up imports the corpus into the volumes; every path is served byte-identical through the origin front and a cache', async () => {
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'stack', 'status', '--json', '--state', stack.stateDir]);
    assert.deepEqual((JSON.parse(stdout) as StackStatus).store, { address: t.store!.listen, metrics: t.store!.metrics, dir: t.store!.dir, running: true });
    const gets = async () => (await scrape(t.store!.metrics)).get('hearth_store_requests_total{op="get",result="ok"}') ?? 0;
    const derived = async () => (await scrape(t.origin.serviceMetrics!)).get('hearth_origin_requests_total{result="stored"}') ?? 0;
    const [getsBefore, originBefore] = [await gets(), await derived()];
    const served = await assertCorpusServed(t, root, store);
    assert.ok(served >= 20, `only ${served} paths`);
    // Every one through the origin service (which alone knows secrets), read from the store service.
    assert.ok((await gets()) - getsBefore >= 2 * served, 'store service reads');
    assert.ok((await derived()) - originBefore >= 2 * served, 'served by the origin service as stored');
    // Only image paths reach anything: the store service's own paths are not behind the front.
    const other = await request(`http://${t.origin.listen}/originals/../../etc/passwd`);
    await other.body.dump();
    assert.equal(other.statusCode, 404);
  });

  it('an upload into the store service is identified, resized and compressed into the volumes, and served', async () => {
    const { stdout } = await run(process.execPath, [
      HEARTH_CLI,
      'upload',
      '--store',
      storeSpec(t),
      '--brokers',
      t.kafka!.listen,
      join(FIXTURES, 'ladybird.jpg'),
    ]);
    const { id, paths } = JSON.parse(stdout) as { id: string; paths: Record<string, string> };
    const heads = () => Promise.all(STORED.map((s) => store.head(imagePath(id, s.name))));
    await until('every size in the volumes', async () => ((await heads()).every(Boolean) ? true : undefined), 90_000);
    await until(
      'every size through the perceptual worker',
      async () => ((await Promise.all(STORED.map(async (s) => (await store.head(imagePath(id, s.name)))?.meta.pq))).every(Boolean) ? true : undefined),
      90_000,
    );
    // Served under its secret path, from its store path; the store path itself is not served.
    const r = await request(`http://${t.colos[0]!.nodes[0]!}${paths.z!}`, { headers: { host: 'img-sin.test' } });
    assert.equal(r.statusCode, 200);
    assert.ok(Buffer.from(await r.body.arrayBuffer()).equals(await store.get(imagePath(id, 'z'))));
    const plain = await request(`http://${t.colos[0]!.nodes[0]!}${imagePath(id, 'z')}`, { headers: { host: 'img-sin.test' } });
    await plain.body.dump();
    assert.equal(plain.statusCode, 404);
  });

  it('the store service is a Prometheus target, up, with its objects counted', async () => {
    const up = await until(
      'the store scraped',
      async () => {
        const body = (await (
          await fetch(`http://${t.pipeline!.prometheus.listen}/api/v1/query?query=${encodeURIComponent('hearth_store_objects')}`)
        ).json()) as { data: { result: { metric: { job: string }; value: [number, string] }[] } };
        return body.data.result.find((x) => x.metric.job === 'store');
      },
      30_000,
    );
    assert.ok(Number(up.value[1]) > 20, `hearth_store_objects ${up.value[1]}`);
  });

  it("every query of the dashboard's store row returns data from this stack's Prometheus (but Ceph's: pipeline-ceph.test.ts)", async () => {
    // The report is a batch job: its figures reach the row through the textfile collector.
    await run(process.execPath, [
      HEARTH_CLI,
      'store',
      'report',
      '--store',
      `http://${t.store!.listen}`,
      '--metrics-file',
      join(stack.textfileDir(), 'store-report.prom'),
    ]);
    assert.deepEqual(
      await panelsWithoutData(
        `http://${t.pipeline!.prometheus.listen}`,
        PANELS.filter((x) => x.id.startsWith('store-') && !x.id.startsWith('store-ceph-')),
        60_000,
      ),
      [],
    );
  });
});
