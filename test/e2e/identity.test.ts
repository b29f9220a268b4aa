/**
 * The identity tier in the whole pipeline, through the real broker: a photo uploaded
 * twice is stored and resized once and served under both ids; a blocklisted photo (its
 * PDQ in the list) and a recompressed copy of it are never resized, never warmed, and
 * answered 451. The shared whole-pipeline stack (helpers/pipeline-stack.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { request } from 'undici';
import { createHinter } from '@hearth/api-hook';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { scrape } from '../../common/prom-text.js';
import { pdqOf } from '../../identity/pdq.js';
import { storedLadder } from '../../image/ladder.js';
import { imagePath, originalPath } from '../../image/store.js';
import { openStore, storeFile } from '../../store/index.js';
import { readVerdict } from '../../image/verdicts.js';
import { TOPICS, createKafka } from '../../kafka/client.js';
import { createLogger } from '../../common/logger.js';
import type { Topology } from '../../topology/topology.js';
import { pipelineStack, type PipelineStack } from '../helpers/pipeline-stack.js';
import { watchTopics } from '../helpers/test-kafka.js';
import { until } from '../helpers/until.js';

/** What the resize tier stores at upload by default; the origin makes the rest on demand. */
const STORED = storedLadder();

const run = promisify(execFile);
const FETCHED = new URL('../../../.cache/photos/src/', import.meta.url).pathname;

describe('the identity tier in the whole pipeline', function () {
  this.timeout(240_000);
  let p: PipelineStack;
  let t: Topology;
  const events: { topic: string; value: Record<string, unknown> }[] = [];
  let stopWatching: () => Promise<void>;

  /** Each upload's served paths, as `hearth upload` printed them (every size and `original`, each with its secret). */
  const served = new Map<string, Record<string, string>>();
  const upload = async (file: string): Promise<string> => {
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'upload', '--store', p.root, '--brokers', t.kafka!.listen, file]);
    const { id, paths } = JSON.parse(stdout) as { id: string; paths: Record<string, string> };
    served.set(id, paths);
    return id;
  };
  const pathOf = (id: string, size: string): string => served.get(id)![size]!;
  const identity = async (name: string): Promise<number> => (await scrape(t.pipeline!.identity)).get(name) ?? 0;
  const verdicts = (v: string) => identity(`hearth_identity_uploads_total{verdict="${v}"}`);
  /** Whether the resize tier said it made a size of `id`: by id, since the shared stack's other uploads may still be resizing (their variants come after their sizes). */
  const resizedEvent = (id: string, size?: string) =>
    events.some((e) => e.topic === TOPICS.resized && e.value.id === id && (size === undefined || e.value.size === size));
  const viewerGet = (path: string) => request(`http://${t.colos[0]!.nodes[0]!}${path}`, { headers: { host: 'img-sin.test' } });

  before(async () => {
    p = await pipelineStack();
    t = p.topology;
    const kafka = createKafka([t.kafka!.listen], 'identity-test', createLogger('test', 'silent'));
    const consumer = await watchTopics(kafka, [TOPICS.accepted, TOPICS.matched, TOPICS.quarantined, TOPICS.resized], (topic, value) =>
      events.push({ topic, value }),
    );
    stopWatching = () => consumer.disconnect();
  });
  after(async () => {
    await stopWatching?.();
  });

  it('stores and resizes the same photo once when it is uploaded twice, and serves it under both ids', async () => {
    const photo = join(FETCHED, 'Kite.jpg');
    const first = await upload(photo);
    await until('every size of the first upload', () => STORED.every((s) => existsSync(storeFile(p.root, imagePath(first, s.name)))) || undefined, 90_000);
    await until('the first upload resized', () => STORED.every((s) => resizedEvent(first, s.name)) || undefined, 60_000);
    const duplicatesBefore = await verdicts('duplicate');
    const second = await upload(photo);
    assert.notEqual(second, first);
    const matched = await until('the duplicate event', () => events.find((e) => e.topic === TOPICS.matched && e.value.id === second), 30_000);
    assert.deepEqual({ kind: matched.value.kind, of: matched.value.of, distance: matched.value.distance }, { kind: 'duplicate', of: first, distance: 0 });
    assert.ok(
      (matched.value.bytesSaved as number) > statSync(photo).size,
      `bytes saved: the original and the stored sizes (${String(matched.value.bytesSaved)})`,
    );
    assert.equal(await verdicts('duplicate'), duplicatesBefore + 1);
    assert.ok((await identity('hearth_identity_bytes_saved_total')) >= (matched.value.bytesSaved as number));
    // Stored once: the second original is the first one's file, linked.
    assert.equal(statSync(storeFile(p.root, originalPath(second))).ino, statSync(storeFile(p.root, originalPath(first))).ino);
    assert.deepEqual(await readVerdict(openStore(p.root), second), {
      v: 1,
      verdict: 'duplicate',
      of: first,
      at: (await readVerdict(openStore(p.root), second))!.at,
    });
    // Resized once: never accepted, no size of its own, no resize event of its own.
    assert.equal(
      events.some((e) => e.topic === TOPICS.accepted && e.value.id === second),
      false,
    );
    assert.ok(events.some((e) => e.topic === TOPICS.accepted && e.value.id === first));
    assert.equal(
      STORED.some((s) => existsSync(storeFile(p.root, imagePath(second, s.name)))),
      false,
    );
    assert.equal(resizedEvent(second), false);
    // Served under its own id, from the first one's files, through a cache.
    for (const size of ['z', 'q']) {
      const r = await viewerGet(pathOf(second, size));
      assert.equal(r.statusCode, 200, size);
      assert.deepEqual(Buffer.from(await r.body.arrayBuffer()), readFileSync(storeFile(p.root, imagePath(first, size))), size);
    }
    const o = await viewerGet(pathOf(second, 'original'));
    assert.equal(o.statusCode, 200);
    assert.deepEqual(Buffer.from(await o.body.arrayBuffer()), readFileSync(photo));
  });

  it('quarantines a blocklisted photo and a recompressed copy of it: never resized, never warmed, 451', async () => {
    const photo = join(FETCHED, 'Storm.jpg');
    const listed = (await pdqOf(photo)).hex;
    writeFileSync(p.stack.blocklistFile(), `# test list\n${listed}\n`);
    // The tier checks the file for changes at most once a second.
    await new Promise((r) => setTimeout(r, 1100));
    const copy = join(mkdtempSync(join(tmpdir(), 'hearth-identity-')), 'storm-q45.jpg');
    writeFileSync(copy, await sharp(photo).jpeg({ quality: 45 }).toBuffer());
    const ids = [await upload(photo), await upload(copy)];
    for (const id of ids) {
      const q = await until(`the quarantine of ${id}`, () => events.find((e) => e.topic === TOPICS.quarantined && e.value.id === id), 60_000);
      assert.equal(q.value.listed, listed);
      assert.ok((q.value.distance as number) <= 31, `distance ${String(q.value.distance)}`);
      assert.equal((await readVerdict(openStore(p.root), id))?.verdict, 'quarantined');
    }
    assert.equal(events.find((e) => e.topic === TOPICS.quarantined && e.value.id === ids[0])?.value.distance, 0);
    assert.ok((await verdicts('quarantined')) >= 2);
    // Never resized.
    assert.equal(
      events.some((e) => e.topic === TOPICS.accepted && ids.includes(e.value.id as string)),
      false,
    );
    assert.equal(
      ids.some((id) => resizedEvent(id)),
      false,
    );
    for (const id of ids)
      assert.equal(
        STORED.some((s) => existsSync(storeFile(p.root, imagePath(id, s.name)))),
        false,
      );
    // 451 for every path, original included, and never kept by a cache.
    for (const id of ids) {
      for (const path of [pathOf(id, 'z'), pathOf(id, 'b'), pathOf(id, 'original')]) {
        for (let i = 0; i < 2; i++) {
          const r = await viewerGet(path);
          await r.body.dump();
          assert.equal(r.statusCode, 451, path);
          assert.notEqual(r.headers['x-cache-status'], 'HIT', path);
        }
      }
    }
    // Never warmed: the warmer knows the quarantine and drops the hint.
    const warmer = t.warmer.http;
    await until(
      'the warmer knows both quarantines',
      async () => ((await scrape(warmer)).get('hearth_warmer_quarantined_images') ?? 0) >= 2 || undefined,
      30_000,
    );
    const before = await scrape(warmer);
    const hinter = createHinter({ warmers: [t.warmer.udp] });
    hinter.hint({ paths: ids.map((id) => pathOf(id, 'n')), viewer: '10.1.0.9' });
    await hinter.close();
    await until(
      'the hint dropped as quarantined',
      async () =>
        ((await scrape(warmer)).get('hearth_warmer_paths_dropped_total{reason="quarantined"}') ?? 0) >=
          (before.get('hearth_warmer_paths_dropped_total{reason="quarantined"}') ?? 0) + 2 || undefined,
      10_000,
    );
    const after = await scrape(warmer);
    assert.equal(after.get('hearth_warmer_pushes_enqueued_total{colo="sin"}'), before.get('hearth_warmer_pushes_enqueued_total{colo="sin"}'));
  });
});
