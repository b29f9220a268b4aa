/**
 * What the whole-pipeline tests on another store or over hosts share (pipeline-volumes,
 * pipeline-ceph, pipeline-hosts): a topology of free ports around the store section each
 * gives, the check that every path of the corpus imported at `up` is served
 * byte-identical, and the backfill their failures happen in the middle of.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { request } from 'undici';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { buildCorpus, findJpegs } from '../../corpus/build.js';
import { scrape } from '../../common/prom-text.js';
import { storedLadder } from '../../image/ladder.js';
import { imagePath, originalPath } from '../../image/store.js';
import { Stack } from '../../stack/stack.js';
import { DirStore, type ObjectStore } from '../../store/index.js';
import { kafkaBrokers, parseTopology, storeSpec, type Topology } from '../../topology/topology.js';
import { FIXTURES, freePorts, freeUdpPort, upForTheRun } from './test-stack.js';
import { until } from './until.js';

const run = promisify(execFile);

/**
 * A whole pipeline (one resize worker) with two colos of one cache node, on free ports,
 * with `store`'s section (`store` or `ceph`) on top; it may take free ports `spare(0)`
 * and `spare(1)` of the same draw.
 */
export async function storeStackTopology(root: string, store: (spare: (i: 0 | 1) => string) => Record<string, unknown>): Promise<Topology> {
  const ports = await freePorts(23);
  const a = (i: number): string => `127.0.0.1:${ports[i]}`;
  return parseTopology({
    origin: { listen: a(0), root, service: a(1), serviceMetrics: a(2) },
    ...store((i) => a(3 + i)),
    proxy: { listen: a(5), keepalive: 16 },
    colos: [
      { name: 'sin', host: 'cache-sin.test', viewerHosts: ['img-sin.test'], cidrs: ['10.1.0.0/16'], nodes: [a(6)] },
      { name: 'ams', host: 'cache-ams.test', viewerHosts: ['img-ams.test'], cidrs: ['10.2.0.0/16'], nodes: [a(7)] },
    ],
    warmer: { udp: `127.0.0.1:${await freeUdpPort()}`, http: a(8) },
    kafka: { listen: a(9), controller: a(10) },
    pipeline: {
      resizeWorkers: [a(11)],
      // These stacks are about the store (200-upload failure tests): every AVIF and WebP is left to the origin, not searched at upload.
      variants: [],
      perceptual: a(12),
      identity: a(13),
      prometheus: { listen: a(14) },
      cacheLogs: a(15),
      race: a(16),
      textfiles: a(17),
      dashboard: a(18),
      purgers: [a(20), a(21)],
      takedown: a(22),
    },
  });
}

export interface StoreStack<S> {
  readonly t: Topology;
  /** The corpus imported at `up`. */
  readonly root: string;
  readonly stack: Stack;
  readonly store: S;
  /** Closes the store and stops the stack. */
  down(): Promise<void>;
}

/**
 * A stack of `storeStackTopology` (`section` on top) over a corpus of the fixture
 * photographs, `idsPerPhoto` ids each, up for the run, and its store opened with `open`;
 * `beforeUp` runs once the topology is known (a bucket to make, say).
 */
export async function upStoreStack<S extends ObjectStore & { close(): Promise<void> }>(o: {
  name: string;
  idsPerPhoto: number;
  section: (dir: string, spare: (i: 0 | 1) => string) => Record<string, unknown>;
  open: (spec: string) => S;
  beforeUp?: (t: Topology) => Promise<unknown>;
}): Promise<StoreStack<S>> {
  const dir = mkdtempSync(join(tmpdir(), `hearth-${o.name}-stack-`));
  const root = join(dir, 'corpus');
  await buildCorpus({ sources: findJpegs(FIXTURES), out: root, idsPerPhoto: o.idsPerPhoto });
  const t = await storeStackTopology(root, (spare) => o.section(dir, spare));
  await o.beforeUp?.(t);
  const stack = new Stack(join(dir, 'state'), t);
  await upForTheRun(stack);
  const store = o.open(storeSpec(t));
  return {
    t,
    root,
    stack,
    store,
    down: async () => {
      await store.close();
      await stack.down();
    },
  };
}

/** Every size of the corpus in `root`: in `store` with the same bytes, and the same bytes through the origin front and through a cache (ams). How many. */
export async function assertCorpusServed(t: Topology, root: string, store: ObjectStore): Promise<number> {
  const corpus = new DirStore(root);
  let served = 0;
  for await (const { key } of corpus.list('/photos/')) {
    const want = await corpus.get(key);
    assert.ok((await store.get(key)).equals(want), `${key} imported with other bytes`);
    const viaOrigin = await request(`http://${t.origin.listen}${key}`);
    assert.equal(viaOrigin.statusCode, 200, key);
    assert.equal(viaOrigin.headers['content-type'], 'image/jpeg', key);
    assert.ok(Buffer.from(await viaOrigin.body.arrayBuffer()).equals(want), `${key} through the origin front`);
    const viaCache = await request(`http://${t.colos[1]!.nodes[0]!}${key}`, { headers: { host: 'img-ams.test' } });
    assert.equal(viaCache.statusCode, 200, key);
    assert.ok(Buffer.from(await viaCache.body.arrayBuffer()).equals(want), `${key} through a cache`);
    served++;
  }
  return served;
}

/** What the resize tier stores at upload by default; the origin makes the rest on demand. */
const STORED = storedLadder();

/**
 * A backfill of `count` distinct originals (a fixture photograph each at its own width
 * and quality), put into `store` 8 at a time, then replayed with `hearth backfill` at
 * 20/s in batches of 4 over the topology's brokers: the failure tests' load. Returns the
 * ids and the running backfill (await it).
 */
export async function startBackfill(
  t: Topology,
  store: ObjectStore,
  stateDir: string,
  firstId: number,
  count = 200,
): Promise<{ ids: string[]; done: Promise<unknown> }> {
  const photos = readdirSync(FIXTURES).filter((f) => f.endsWith('.jpg'));
  const ids = Array.from({ length: count }, (_, i) => String(firstId + i));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < ids.length; i = next++) {
        const data = await sharp(join(FIXTURES, photos[i % photos.length]!))
          .resize(360 + i)
          .jpeg({ quality: 60 + (i % 35) })
          .toBuffer();
        await store.put(originalPath(ids[i]!), data);
      }
    }),
  );
  return { ids, done: backfill(t, ids, stateDir, ['--rate', '20', '--batch', '4']) };
}

/** `hearth backfill` of these ids' originals into the stack of `t`, its list and checkpoint in `dir`; resolves when the command ends. */
export function backfill(t: Topology, ids: readonly string[], dir: string, flags: readonly string[]): Promise<unknown> {
  const list = join(dir, 'backfill.list');
  writeFileSync(list, ids.map((id) => `${id} ${originalPath(id)}`).join('\n'));
  const args = ['backfill', '--list', list, '--store', storeSpec(t), '--brokers', kafkaBrokers(t).join(','), '--checkpoint', join(dir, 'backfill.json')];
  return run(process.execPath, [HEARTH_CLI, ...args, ...flags, '--no-progress']);
}

/** The images the first resize worker has resized so far. */
export const resizedSoFar = async (t: Topology): Promise<number> => (await scrape(t.pipeline!.resizeWorkers[0]!)).get('hearth_resize_images_total') ?? 0;

/**
 * Waits until every id has every stored size, marked by the perceptual pass. On a timeout
 * the error says which uploads are short of what, and what `diagnose` finds (the workers'
 * own account of why they are stuck), so a failure on a slower machine can be read.
 */
export async function untilWhole(
  store: ObjectStore,
  ids: readonly string[],
  timeoutMs = 900_000,
  diagnose: () => Promise<string> = () => Promise.resolve(''),
): Promise<void> {
  const state = async (id: string) =>
    (
      await Promise.all(
        STORED.map(async (sz) => {
          const h = await store.head(imagePath(id, sz.name));
          return !h ? `${sz.name}: missing` : h.meta.pq === undefined ? `${sz.name}: not through the perceptual pass` : undefined;
        }),
      )
    ).filter((x) => x !== undefined);
  const pending = new Set(ids);
  try {
    await until(
      'every upload with every stored size, marked by the perceptual pass',
      async () => {
        for (const id of [...pending]) if ((await state(id)).length === 0) pending.delete(id);
        if (pending.size === 0) return true;
        await new Promise((r) => setTimeout(r, 2000));
        return undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    const short = await Promise.all([...pending].slice(0, 5).map(async (id) => `${id} (${(await state(id)).join(', ')})`));
    throw new Error(
      `${(err as Error).message}: ${pending.size} of ${ids.length} short, e.g. ${short.join('; ')}\n${await diagnose().catch((e: Error) => `diagnosis failed: ${e.message}`)}`,
    );
  }
}

/**
 * What the pipeline's Kafka workers say of themselves: each one's /healthz answer and the
 * last warnings and errors of its log (`<state>/<daemon>/<daemon>.log`).
 */
export async function workersAccount(t: Topology, stateDir: string): Promise<string> {
  const p = t.pipeline!;
  const workers: [string, string][] = [
    ...p.resizeWorkers.map((a, i): [string, string] => [`resize-${i}`, a]),
    ['perceptual', p.perceptual],
    ['identity', p.identity],
  ];
  const out: string[] = [];
  for (const [name, address] of workers) {
    const health = await request(`http://${address}/healthz`, { headersTimeout: 5000, bodyTimeout: 5000 }).then(
      async (r) => `${r.statusCode} ${(await r.body.text()).slice(0, 500)}`,
      (e: Error) => `unreachable: ${e.message}`,
    );
    let lines: string[] = [];
    try {
      lines = readFileSync(join(stateDir, name, `${name}.log`), 'utf8')
        .split('\n')
        .filter((l) => /"level":(4|5|6)0/.test(l))
        .slice(-8)
        .map((l) => `    ${l.slice(0, 400)}`);
    } catch (e) {
      lines = [`    (no log: ${(e as Error).message})`];
    }
    out.push(`${name} /healthz: ${health}`, ...lines);
  }
  return out.join('\n');
}

/** Each stored size of each id decodes and is served byte-exact through the origin front; `also` checks each key further. */
export async function assertServedWhole(t: Topology, store: ObjectStore, ids: readonly string[], also: (key: string) => void = () => undefined): Promise<void> {
  for (const id of ids) {
    for (const sz of STORED) {
      const key = imagePath(id, sz.name);
      const want = await store.get(key);
      await assert.doesNotReject(sharp(want, { failOn: 'error' }).raw().toBuffer(), `${key} does not decode`);
      const r = await request(`http://${t.origin.listen}${key}`);
      assert.equal(r.statusCode, 200, key);
      assert.ok(Buffer.from(await r.body.arrayBuffer()).equals(want), `${key} through the origin`);
      also(key);
    }
  }
}
