/**
 * The whole pipeline on Ceph: a stack whose topology has a `ceph` section (the shared
 * test cluster's, so no second cluster starts), the fixture corpus imported into its
 * bucket at `up`; every imported path served byte-identical through the origin and a
 * cache; an upload resized and compressed by the workers into the bucket over S3, and
 * served; in the middle of a backfill of 200 uploads, an OSD's host cut off for 20 s,
 * then another's killed (each OSD on a test host of its own, where the run may make
 * them), with every upload whole and Ceph clean once the host is back; Ceph's manager a Prometheus target with
 * data in the store row's Ceph panels.
 * A stack of its own (broker, workers, Prometheus), stopped when these tests end.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { PANELS } from '../../dashboard/panels.js';
import { storedLadder } from '../../image/ladder.js';
import { imagePath } from '../../image/store.js';
import { Stack, type StackStatus } from '../../stack/stack.js';
import { S3Store } from '../../store/index.js';
import { storeSpec, type Topology } from '../../topology/topology.js';
import { FIXTURES } from '../helpers/test-stack.js';
import {
  assertCorpusServed,
  assertServedWhole,
  resizedSoFar,
  startBackfill,
  untilWhole,
  upStoreStack,
  workersAccount,
  type StoreStack,
} from '../helpers/store-stack.js';
import { panelsWithoutData } from '../helpers/panels-without-data.js';
import { testCeph, testCephHosts } from '../helpers/test-ceph.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
/** What the resize tier stores at upload by default; the origin makes the rest on demand. */
const STORED = storedLadder();

describe('the whole pipeline on Ceph (the s3 driver on the RADOS Gateway)', function () {
  this.timeout(300_000);
  let stack: Stack;
  let t: Topology;
  let root: string;
  let store: S3Store;
  let up: StoreStack<S3Store> | undefined;

  before(async () => {
    const ceph = await testCeph();
    const bucket = `stack-${Date.now().toString(36)}`;
    up = await upStoreStack({
      name: 'ceph',
      idsPerPhoto: 1,
      section: () => ({
        ceph: { dir: ceph.dir, mon: `${ceph.host}:${ceph.monPort}`, s3: `${ceph.host}:${ceph.rgwPort}`, metrics: ceph.metricsAddress, osds: ceph.osds, bucket },
      }),
      open: (spec) => new S3Store(spec),
      // The stack's bucket is its own: made here, as `hearth ceph up` makes the default one.
      beforeUp: () => ceph.createBucket(bucket),
    });
    ({ t, root, stack, store } = up);
  });

  after(() => up?.down());

  it('up imports the corpus into the bucket; every path is served byte-identical through the origin front and a cache', async () => {
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'stack', 'status', '--json', '--state', stack.stateDir]);
    assert.deepEqual((JSON.parse(stdout) as StackStatus).ceph, {
      s3: t.ceph!.s3,
      bucket: t.ceph!.bucket,
      metrics: t.ceph!.metrics,
      dir: t.ceph!.dir,
      running: true,
    });
    const served = await assertCorpusServed(t, root, store);
    assert.ok(served >= 10, `only ${served} paths`);
  });

  it('an upload is identified, resized and compressed into the bucket over S3, and served', async () => {
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
    await until(
      'every stored size in the bucket, marked by the perceptual pass',
      async () => ((await Promise.all(STORED.map(async (s) => (await store.head(imagePath(id, s.name)))?.meta.pq))).every(Boolean) ? true : undefined),
      120_000,
    );
    const r = await request(`http://${t.colos[0]!.nodes[0]!}${paths.z!}`, { headers: { host: 'img-sin.test' } });
    assert.equal(r.statusCode, 200);
    assert.ok(Buffer.from(await r.body.arrayBuffer()).equals(await store.get(imagePath(id, 'z'))));
  });

  it("mid-backfill, a storage host's link is cut for 20 s, then another storage host dies: each of 200 uploads ends with every stored size, decodable and served byte-exact; Ceph reports degraded data, then clean once the host is back", async function () {
    this.timeout(1_500_000);
    const ceph = await testCeph();
    const hosts = await testCephHosts();
    const { ids, done: backfill } = await startBackfill(t, store, stack.stateDir, 990_000);
    const resized = () => resizedSoFar(t);
    await until('the backfill under way', async () => ((await resized()) >= 20 ? true : undefined), 120_000);
    const down = (n: number) =>
      until(
        `Ceph seeing ${n} OSDs up, with degraded data`,
        async () => {
          const st = await ceph.status();
          return st.osds.up === n && st.degradedObjects > 0 ? st : undefined;
        },
        120_000,
      );
    if (hosts) {
      // One OSD's host cut off for 20 s: its OSD runs on, unreachable, and is marked down.
      const cutAt = Date.now();
      await hosts.cut('osd2');
      await down(3);
      await new Promise((r) => setTimeout(r, Math.max(0, cutAt + 20_000 - Date.now())));
      await hosts.mend('osd2');
      await until('the cut host back up', async () => ((await ceph.status()).osds.up === 4 ? true : undefined), 120_000);
      assert.ok(ceph.pid('osd.2'), 'the cut OSD never stopped');
    }
    await until('the backfill further on', async () => ((await resized()) >= 80 ? true : undefined), 600_000);
    // Another OSD's host (its CRUSH host holds that OSD alone) dies with all it runs.
    if (hosts) assert.ok((await hosts.kill('osd1')) >= 1);
    else ceph.kill('osd.1');
    await down(3);
    await backfill;
    await untilWhole(store, ids, undefined, () => workersAccount(t, stack.stateDir));
    await assertServedWhole(t, store, ids);
    await ceph.startDaemon('osd.1');
    const clean = await until(
      'Ceph clean again',
      async () => {
        const st = await ceph.status();
        return st.osds.up === 4 && st.degradedObjects === 0 && st.pgs.activeClean === st.pgs.total ? st : undefined;
      },
      180_000,
    );
    assert.equal(clean.health === 'HEALTH_OK' || Object.keys(clean.checks).every((c) => c === 'RECENT_CRASH'), true, JSON.stringify(clean.checks));
  });

  it("Ceph's manager is a Prometheus target, and every query of the store row's Ceph panels returns data", async () => {
    const osds = await until(
      'Ceph scraped',
      async () => {
        const body = (await (await fetch(`http://${t.pipeline!.prometheus.listen}/api/v1/query?query=${encodeURIComponent('sum(ceph_osd_up)')}`)).json()) as {
          data: { result: { value: [number, string] }[] };
        };
        return body.data.result[0];
      },
      60_000,
    );
    assert.equal(Number(osds.value[1]), 4);
    assert.deepEqual(
      await panelsWithoutData(
        `http://${t.pipeline!.prometheus.listen}`,
        PANELS.filter((x) => x.id.startsWith('store-ceph-')),
        60_000,
      ),
      [],
    );
  });
});
