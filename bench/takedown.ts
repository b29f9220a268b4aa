/**
 * How fast a photo taken back leaves every colo (`npm run bench -- takedown`): 1,000
 * warmed photos (a size and the original cached in both colos) deleted through the
 * library `hearth delete` runs, from a process that keeps its producer (as a site's
 * takedown service would), four at a time, while viewers keep asking both colos for
 * photos being deleted. Measured per photo: from the start of the delete to the moment
 * the last colo's first purge pass ended (the purgers' own records on
 * hearth.images.purged). Real nginx caches, origin front and service, broker, and one
 * purger process per colo, as `hearth stack up` runs them.
 *
 * Served after purge: a viewer's request that began after its colo's purge of that
 * photo had ended and still got bytes of it (a 200). Target 0.
 *
 * Baseline, in the same run: one Kafka hop (produce, acknowledged, consumed by another
 * consumer), the floor any takedown that travels over Kafka pays; the ratio says what
 * the store's work and the purge add over it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { HEARTH_CLI, createLogger } from '../common/index.js';
import { DEFAULT_LADDER, imagePath, originalPath } from '../image/index.js';
import { TOPICS, connectProducer, createKafka, ensureTopics, purgedValidator } from '../kafka/index.js';
import { CACHE_LEVELS } from '../proxy-config/index.js';
import { Stack } from '../stack/index.js';
import { DirStore } from '../store/index.js';
import { deleteAndAnnounce } from '../takedown/index.js';
import { parseTopology, purgerConfigFor } from '../topology/index.js';
import { freePort, parallel, sleep, table } from './common.js';

const PHOTOS = Number(process.env.HEARTH_BENCH_TAKEDOWNS ?? 1000);
const LANES = 4;
const FIXTURE = 'test/fixtures/photos/ladybird.jpg';

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const ms = (v: number): number => Math.round(v * 10) / 10;

export async function benchTakedown(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-takedown-'));
  const root = join(dir, 'store');
  const ports = await Promise.all(Array.from({ length: 10 }, () => freePort()));
  const a = (i: number): string => `127.0.0.1:${ports[i]}`;
  const t = parseTopology({
    origin: { listen: a(0), root, service: a(1), serviceMetrics: a(2) },
    proxy: { listen: a(3), keepalive: 64 },
    colos: [
      { name: 'sin', host: 'cache-sin.bench', viewerHosts: ['img-sin.bench'], cidrs: ['10.1.0.0/16'], nodes: [a(4)] },
      { name: 'ams', host: 'cache-ams.bench', viewerHosts: ['img-ams.bench'], cidrs: ['10.2.0.0/16'], nodes: [a(5)] },
    ],
    warmer: { udp: a(6), http: a(7) },
    kafka: { listen: a(8), controller: a(9) },
  });

  // The store: every photo's original and its `z`, real JPEG bytes (one photograph's, under every id).
  const original = readFileSync(FIXTURE);
  const z = await sharp(original).resize(640, 640, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer();
  const ids = Array.from({ length: PHOTOS }, (_, i) => String(5_000_000 + i));
  const store = new DirStore(root);
  mkdirSync(root, { recursive: true });
  for (const id of ids) {
    await store.put(originalPath(id), original);
    await store.put(imagePath(id, 'z'), z);
  }
  process.stderr.write(`takedown benchmark: ${PHOTOS} photos, 2 colos, ${LANES} deletes at a time\n`);

  const stack = new Stack(join(dir, 'state'), t);
  const purgers: ChildProcess[] = [];
  const log = createLogger('bench', 'warn');
  await stack.up();
  try {
    // One purger per colo, as the stack runs them.
    for (const [i, colo] of t.colos.entries()) {
      const http = await freePort();
      const config = join(dir, `purge-${colo.name}.json`);
      const dirs = stack
        .instances()
        .filter((n) => n.inst.colo === colo.name)
        .map((n) => n.inst.dir);
      writeFileSync(
        config,
        JSON.stringify({
          kafka: { brokers: [t.kafka!.listen], partitions: 8 },
          http: { host: '127.0.0.1', port: http },
          log: { level: 'warn' },
          ...purgerConfigFor(colo, dirs, CACHE_LEVELS),
        }),
      );
      purgers[i] = spawn(process.execPath, [HEARTH_CLI, 'purge', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
      for (let k = 0; k < 600; k++) {
        if (
          await fetch(`http://127.0.0.1:${http}/readyz`).then(
            (r) => r.ok,
            () => false,
          )
        )
          break;
        await sleep(100);
      }
    }
    const kafka = createKafka([t.kafka!.listen], 'hearth-bench', log);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, { 'hearth.bench.hop': 8 });
    await admin.disconnect();
    const producer = await connectProducer([t.kafka!.listen], 'hearth-bench', log, { [TOPICS.takedown]: 8, [TOPICS.purged]: 8 });

    // Baseline: one Kafka hop, produce to consume, 200 times.
    const hop: number[] = [];
    const sentAt = new Map<string, number>();
    const hops = kafka.consumer({ groupId: `bench-hop-${Date.now()}` });
    await hops.connect();
    await hops.subscribe({ topic: 'hearth.bench.hop', fromBeginning: false });
    await hops.run({
      eachMessage: ({ message }) => {
        const k = message.key?.toString() ?? '';
        const t0 = sentAt.get(k);
        if (t0 !== undefined) hop.push(performance.now() - t0);
        return Promise.resolve();
      },
    });
    await sleep(3000);
    for (let i = 0; i < 200; i++) {
      sentAt.set(String(i), performance.now());
      await producer.send({ topic: 'hearth.bench.hop', messages: [{ key: String(i), value: 'x' }] });
      await sleep(5);
    }
    for (let k = 0; k < 100 && hop.length < 200; k++) await sleep(100);
    await hops.disconnect();

    // Warm: the size and the original of every photo in both colos.
    const agent = new Agent({ connections: 32 });
    const get = async (node: string, host: string, path: string): Promise<number> => {
      const r = await request(`http://${node}${path}`, { headers: { host }, dispatcher: agent });
      await r.body.dump();
      return r.statusCode;
    };
    const cells = t.colos.map((c) => ({ name: c.name, node: c.nodes[0]!, host: c.viewerHosts[0]! }));
    await parallel(
      ids.flatMap((id) => cells.flatMap((c) => [imagePath(id, 'z'), originalPath(id)].map((p) => ({ c, p })))),
      16,
      async ({ c, p }) => void (await get(c.node, c.host, p)),
    );

    // The purgers' records of pass 1, by photo and colo.
    const purgedAt = new Map<string, Map<string, number>>();
    const watch = kafka.consumer({ groupId: `bench-purged-${Date.now()}` });
    await watch.connect();
    await watch.subscribe({ topic: TOPICS.purged, fromBeginning: false });
    await watch.run({
      eachMessage: ({ message }) => {
        let v: unknown;
        try {
          v = JSON.parse(message.value?.toString() ?? '');
        } catch {
          return Promise.resolve();
        }
        if (purgedValidator.is(v) && v.pass === 1) {
          const m = purgedAt.get(v.id) ?? new Map<string, number>();
          m.set(v.colo, v.ts);
          purgedAt.set(v.id, m);
        }
        return Promise.resolve();
      },
    });
    await sleep(3000);

    // Viewers: keep asking both colos for photos about to be, being and just deleted.
    const views: { id: string; colo: string; start: number; status: number }[] = [];
    let viewing = true;
    let next = 0;
    const viewers = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (viewing) {
          const id = ids[Math.min(ids.length - 1, next + Math.floor(Math.random() * 8))]!;
          const c = cells[Math.floor(Math.random() * cells.length)]!;
          const start = Date.now();
          const status = await get(c.node, c.host, Math.random() < 0.5 ? imagePath(id, 'z') : originalPath(id)).catch(() => 0);
          views.push({ id, colo: c.name, start, status });
        }
      }),
    );

    const startedAt = new Map<string, number>();
    const ackedAt = new Map<string, number>();
    const wall = await parallel(ids, LANES, async (id) => {
      next = Math.max(next, ids.indexOf(id));
      startedAt.set(id, Date.now());
      ackedAt.set(id, (await deleteAndAnnounce(store, producer, id, 'the takedown benchmark')).acknowledged);
    });
    for (let k = 0; k < 300 && [...purgedAt.values()].filter((m) => m.size === 2).length < ids.length; k++) await sleep(100);
    await sleep(500);
    viewing = false;
    await viewers;
    await watch.disconnect();
    await producer.disconnect();

    const reach = ids
      .flatMap((id) => {
        const m = purgedAt.get(id);
        return m && m.size === t.colos.length ? [Math.max(...m.values()) - (startedAt.get(id) as number)] : [];
      })
      .sort((x, y) => x - y);
    // Where the time goes: the delete itself (verdict, objects, the announcement acknowledged), then the purgers.
    const acks = ids.map((id) => (ackedAt.get(id) as number) - (startedAt.get(id) as number)).sort((x, y) => x - y);
    const purges = ids
      .flatMap((id) => {
        const m = purgedAt.get(id);
        return m && m.size === t.colos.length ? [Math.max(...m.values()) - (ackedAt.get(id) as number)] : [];
      })
      .sort((x, y) => x - y);
    const servedAfter = views.filter((v) => v.status === 200 && (purgedAt.get(v.id)?.get(v.colo) ?? Infinity) < v.start);
    // After the run: every path of every deleted photo in both colos.
    let stillServed = 0;
    await parallel(
      ids.flatMap((id) => cells.flatMap((c) => [imagePath(id, 'z'), originalPath(id), imagePath(id, DEFAULT_LADDER[0]!.name)].map((p) => ({ c, p })))),
      16,
      async ({ c, p }) => {
        if ((await get(c.node, c.host, p)) === 200) stillServed++;
      },
    );
    await agent.close();
    hop.sort((x, y) => x - y);
    const figures = {
      bench: 'takedown',
      deleted: ids.length,
      purged: reach.length,
      purge_p50_ms: reach.length ? pct(reach, 50) : null,
      purge_p99_ms: reach.length ? pct(reach, 99) : null,
      purge_max_ms: reach.length ? reach[reach.length - 1] : null,
      served_after_purge: servedAfter.length + stillServed,
      viewer_requests: views.length,
      deletes_per_s: Math.round(ids.length / wall),
      kafka_hop_p50_ms: ms(pct(hop, 50)),
      kafka_hop_p99_ms: ms(pct(hop, 99)),
      purge_p50_over_hop: ms(pct(reach, 50) / pct(hop, 50)),
      delete_ack_p50_ms: pct(acks, 50),
      delete_ack_p99_ms: pct(acks, 99),
      ack_to_purged_p50_ms: pct(purges, 50),
      ack_to_purged_p99_ms: pct(purges, 99),
    };
    process.stderr.write(
      `${table([
        { what: 'takedown → last colo purged', p50_ms: figures.purge_p50_ms ?? '-', p99_ms: figures.purge_p99_ms ?? '-', target: 'p50 ≤ 150, p99 ≤ 1000' },
        { what: '  of which the delete, acknowledged', p50_ms: figures.delete_ack_p50_ms, p99_ms: figures.delete_ack_p99_ms, target: '-' },
        { what: '  of which acknowledged → purged', p50_ms: figures.ack_to_purged_p50_ms, p99_ms: figures.ack_to_purged_p99_ms, target: '-' },
        { what: 'baseline: one Kafka hop', p50_ms: figures.kafka_hop_p50_ms, p99_ms: figures.kafka_hop_p99_ms, target: '-' },
      ])}\n${figures.purged}/${figures.deleted} purged in both colos; served after purge: ${figures.served_after_purge} (of ${views.length} viewer requests during the run, and every path after it); ${figures.deletes_per_s} deletes/s; p50 ${figures.purge_p50_over_hop}× one Kafka hop\n`,
    );
    return figures;
  } finally {
    for (const p of purgers) p?.kill('SIGTERM');
    await stack.down();
  }
}
