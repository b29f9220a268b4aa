/**
 * The whole pipeline spread over hosts (`stack up --hosts`: the default topology, every
 * host a network namespace of its own): the origin and the volumes, each colo's cache,
 * the edge, three Kafka nodes, the workers and what watches each on a host. In the middle
 * of a backfill of 200 uploads, one Kafka node's link is cut for 20 s, then another
 * node's host is killed whole: every upload ends with every stored size, decodable and
 * served byte-exact through the origin, and no size is ever written a second time (a
 * message delivered twice finds its sizes made). Needs root; skips otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHinter, Rendezvous } from '@hearth/api-hook';
import { request } from 'undici';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { scrape } from '../../common/prom-text.js';
import { buildCorpus, findJpegs } from '../../corpus/build.js';
import { storedLadder } from '../../image/ladder.js';
import { imagePath } from '../../image/store.js';
import { createKafka, TOPICS } from '../../kafka/index.js';
import { canMakeHosts } from '../../netns/index.js';
import { Stack, type StackStatus } from '../../stack/index.js';
import { openStore, type ObjectStore } from '../../store/index.js';
import { createLogger } from '../../common/index.js';
import { defaultTopology, kafkaBrokers, placements, storeSpec, warmers, type Topology } from '../../topology/index.js';
import { FIXTURES, accessLog, upForTheRun } from '../helpers/test-stack.js';
import { assertServedWhole, resizedSoFar, startBackfill, untilWhole, workersAccount } from '../helpers/store-stack.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const STORED = storedLadder();

describe('the whole pipeline over hosts (stack up --hosts: three Kafka nodes, each daemon on its host)', function () {
  this.timeout(300_000);
  let stack: Stack;
  let t: Topology;
  let store: ObjectStore;
  /** The corpus's paths, every one uncached at the start. */
  let corpus: string[];

  before(async function () {
    if (!(await canMakeHosts())) this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'hearth-hosts-stack-'));
    const root = join(dir, 'corpus');
    corpus = (await buildCorpus({ sources: findJpegs(FIXTURES), out: root, idsPerPhoto: 8 })).paths;
    // About hosts failing (200 uploads): no AVIF and WebP searched at upload, each left to the origin.
    t = defaultTopology(root, { resizeWorkers: 1, kafkaNodes: 3, volumes: join(dir, 'volumes'), hosts: true, variants: [] });
    stack = new Stack(join(dir, 'state'), t, { hosts: true, hostsTag: 'ph' });
    await upForTheRun(stack);
    store = openStore(storeSpec(t));
  });

  after(async () => {
    await store?.close();
    await stack?.down();
  });

  it('runs every daemon on its host: each host its own namespace and address, and status says which', async () => {
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'stack', 'status', '--json', '--state', stack.stateDir]);
    const st = JSON.parse(stdout) as StackStatus;
    assert.deepEqual(
      st.hosts?.map((h) => [h.name, h.address]),
      t.hosts!.map((h) => [h.name, h.address]),
    );
    const net = stack.network!;
    for (const p of placements(t).filter((x) => x.daemon !== 'ceph')) {
      const pid = p.daemon.startsWith('nginx-')
        ? stack
            .instances()
            .find((n) => `nginx-${n.inst.name}` === p.daemon)!
            .pid()
        : p.daemon.startsWith('kafka-')
          ? undefined
          : stack.daemonPid(p.daemon);
      if (pid !== undefined) assert.ok((await net.pids(p.host!)).includes(pid), `${p.daemon} runs on ${p.host}`);
    }
    assert.equal((await net.pids('kafka-2')).length, 1, "one JVM on kafka-2's host");
    assert.equal(st.workers?.resize[0]?.running, true);
  });

  it("a warmer's host dies: the other warmer keeps pushing its share into the caches; hints for the dead one are lost and counted by the sender, never retried", async () => {
    const udps = warmers(t).map((w) => w.udp);
    assert.equal(udps.length, 2, 'two warmers over hosts');
    const ring = new Rendezvous(udps, udps);
    const hinter = createHinter({ warmers: udps });
    const viewed = async (path: string) => {
      const r = await request(`http://${t.colos[0]!.nodes[0]!}${path}`, { headers: { host: t.colos[0]!.viewerHosts[0]! } });
      await r.body.dump();
      return String(r.headers['x-cache-status']);
    };
    // A push's own line in the colo's access log (its Host is the colo's push host): a viewer's request would fill the cache itself.
    const accessFile = stack.instances().find((n) => n.inst.colo === t.colos[0]!.name)!.accessLog;
    const pushed = (path: string) => accessLog(accessFile).some((l) => l.uri === path && l.host === t.colos[0]!.host);
    try {
      const [first, second] = [corpus.slice(0, 20), corpus.slice(20, 40)];
      hinter.hint({ paths: first, viewer: '10.1.2.3' });
      await until('the first 20 pushed while both warmers run', () => (first.every(pushed) ? true : undefined), 20_000);
      assert.ok((await stack.network!.kill('edge-2')) >= 1);
      const before = hinter.stats();
      // Each path on its own turn, so the dead host's refusal comes back between sends.
      for (const path of second) {
        hinter.hint({ paths: [path], viewer: '10.1.2.3' });
        await new Promise((r) => setTimeout(r, 20));
      }
      const mine = second.filter((p) => ring.pick(p) === 0);
      const lost = second.filter((p) => ring.pick(p) === 1);
      assert.ok(mine.length > 0 && lost.length > 0, `both shares of 20 (${mine.length}, ${lost.length})`);
      await until("the live warmer's share pushed", () => (mine.every(pushed) ? true : undefined), 20_000);
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(lost.filter(pushed), [], "nothing of the dead warmer's share pushed");
      for (const path of mine) assert.equal(await viewed(path), 'HIT', `${path}: the viewer's first request`);
      for (const path of lost) assert.equal(await viewed(path), 'MISS', path);
      const stats = hinter.stats();
      assert.ok(stats.sendErrors > before.sendErrors, 'the sender counted what it lost');
      assert.equal(stats.datagrams - before.datagrams, second.length, 'one datagram a hint, never a retry');
    } finally {
      await hinter.close();
      await stack.up(); // the host's warmer back for what follows
    }
  });

  it("mid-backfill, one Kafka node's link is cut for 20 s, then another node's host dies: each of 200 uploads ends with every stored size, decodable and served byte-exact, and no size is written twice", async function () {
    this.timeout(1_500_000);
    const net = stack.network!;
    const { ids, done: backfill } = await startBackfill(t, store, stack.stateDir, 970_000);
    const resized = () => resizedSoFar(t);
    const topics = [TOPICS.uploaded, TOPICS.accepted, TOPICS.resized];
    const admin = createKafka(kafkaBrokers(t), 'hosts-test', createLogger('hosts-test', 'silent')).admin();
    await admin.connect();
    const partitions = () => admin.fetchTopicMetadata({ topics }).catch(() => undefined);
    /** Each pipeline partition's leader and in-sync replicas, as the cluster reports them. */
    const untilInSync = (what: string) =>
      until(what, async () => ((await partitions())?.topics.every((x) => x.partitions.every((p) => p.isr.length === 3)) ? true : undefined), 180_000);
    const partitionsAccount = async () =>
      (await partitions())?.topics
        .map((x) => `${x.name}: ${x.partitions.map((p) => `${p.partitionId} leader ${p.leader} isr [${p.isr.join(',')}]`).join('; ')}`)
        .join('\n') ?? 'no metadata';
    // Every version of every stored size seen while the failures play out (its length and
    // metadata, whose marker names its bytes; one listing every 2 s): a size written again shows as a second.
    const keys = new Set(ids.flatMap((id) => STORED.map((sz) => imagePath(id, sz.name))));
    const seen = new Map<string, Set<string>>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for await (const o of store.list('/photos/')) {
          if (!keys.has(o.key)) continue;
          const versions = seen.get(o.key) ?? new Set<string>();
          versions.add(`${o.size} ${JSON.stringify(o.meta)}`);
          seen.set(o.key, versions);
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    try {
      await until('the backfill under way', async () => ((await resized()) >= 20 ? true : undefined), 180_000);
      const cutAt = Date.now();
      await net.cut('kafka-3');
      await new Promise((r) => setTimeout(r, 20_000 - (Date.now() - cutAt)));
      await net.mend('kafka-3');
      const afterCut = await resized();
      await until('the backfill further on', async () => ((await resized()) >= Math.max(80, afterCut + 10) ? true : undefined), 600_000);
      assert.ok((await net.kill('kafka-2')) >= 1, "kafka-2's host had a process to kill");
      await backfill;
      await untilWhole(store, ids, undefined, async () => `${await workersAccount(t, stack.stateDir)}\n${await partitionsAccount()}`);
      // The killed node back: it catches up, and whatever it hands out again finds the work done.
      await stack.up();
      await untilInSync('kafka-2 back in sync everywhere');
      await new Promise((r) => setTimeout(r, 15_000));
    } finally {
      watching = false;
      await watch;
      await admin.disconnect();
    }
    // The resize tier stores a size once, already through the perceptual pass (its marker names the bytes): one version, ever.
    await assertServedWhole(t, store, ids, (key) =>
      assert.equal(seen.get(key)?.size, 1, `${key} was stored in ${seen.get(key)?.size ?? 0} versions: ${[...(seen.get(key) ?? [])].join(' | ')}`),
    );
    const exists = (await scrape(t.pipeline!.resizeWorkers[0]!)).get('hearth_resize_sizes_total{size="b",outcome="exists"}') ?? 0;
    process.stdout.write(`      (${ids.length} uploads whole; sizes found made already on a message delivered again: ${exists} of size b)\n`);
  });
});
