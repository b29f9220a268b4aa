/**
 * Taking a photo back on the whole pipeline (real nginx caches, real broker, the stack's
 * purgers and warmer): upload, warm, view, delete; every path of the photo gone from
 * every colo, the warmer refusing it, the audit showing each step; and a colo that was
 * down at the delete purging when it is back. (The in-flight fetch race is
 * test/takedown/in-flight.test.ts, made deterministic with a gate.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import sharp from 'sharp';
import { request } from 'undici';
import { createHinter } from '@hearth/api-hook';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { scrape } from '../../common/prom-text.js';
import { imagePath, plainPaths, storedLadder } from '../../image/index.js';
import { storeFile } from '../../store/index.js';
import type { TakedownAudit } from '../../takedown/index.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { pipelineStack, type PipelineStack } from '../helpers/pipeline-stack.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const hearth = (...args: string[]) => run(process.execPath, [HEARTH_CLI, ...args], { maxBuffer: 16 << 20 });

describe('deleting a photo on the whole pipeline (caches, purgers, warmer, audit)', function () {
  this.timeout(180_000);
  let p: PipelineStack;
  const colos = [
    { name: 'sin', viewer: '10.1.0.7', host: 'img-sin.test' },
    { name: 'ams', viewer: '10.2.0.7', host: 'img-ams.test' },
  ];
  const node = (colo: string): string => p.topology.colos.find((c) => c.name === colo)!.nodes[0]!;

  before(async () => {
    p = await pipelineStack();
  });

  /** Each upload's served paths, as `hearth upload` printed them (every size and `original`, each with its secret). */
  const served = new Map<string, Record<string, string>>();
  const pathOf = (id: string, size: string): string => served.get(id)![size]!;
  const pathsOf = (id: string): string[] => Object.values(served.get(id)!);

  /** A photo of its own (bytes no other test uploads, so the identity tier accepts it), every stored size written. */
  async function upload(fixture: string, quality: number): Promise<string> {
    const file = join(mkdtempSync(join(tmpdir(), 'hearth-delete-')), 'photo.jpg');
    writeFileSync(file, await sharp(join(FIXTURES, fixture)).jpeg({ quality }).toBuffer());
    const { stdout } = await hearth('upload', '--store', p.root, '--brokers', p.topology.kafka!.listen, file);
    const { id, paths } = JSON.parse(stdout) as { id: string; paths: Record<string, string> };
    served.set(id, paths);
    await until(
      'every stored size written',
      () => (storedLadder().every((s) => existsSync(storeFile(p.root, imagePath(id, s.name)))) ? true : undefined),
      60_000,
    );
    return id;
  }

  const view = async (colo: (typeof colos)[number], path: string): Promise<{ status: number; cache: string }> => {
    const r = await request(`http://${node(colo.name)}${path}`, { headers: { host: colo.host } });
    await r.body.dump();
    return { status: r.statusCode, cache: String(r.headers['x-cache-status']) };
  };

  const counter = async (name: string): Promise<number> => (await scrape(p.topology.warmer.http)).get(name) ?? 0;
  const pushed = () =>
    Promise.all(colos.map((c) => counter(`hearth_warmer_pushes_total{colo="${c.name}",outcome="miss"}`))).then((v) => v.reduce((a, b) => a + b, 0));
  const refused = () => counter('hearth_warmer_paths_dropped_total{reason="deleted"}');

  /** Warms `paths` in both colos through the warmer, then views each: a HIT in both. */
  async function warmAndView(id: string, paths: string[]): Promise<void> {
    const before = await pushed();
    const hinter = createHinter({ warmers: [p.topology.warmer.udp] });
    for (const c of colos) hinter.hint({ paths, viewer: c.viewer });
    await hinter.close();
    await until('pushed in both colos', async () => ((await pushed()) >= before + 2 * paths.length ? true : undefined), 20_000);
    for (const c of colos) for (const path of paths) assert.deepEqual(await view(c, path), { status: 200, cache: 'HIT' }, `${c.name} ${path} of ${id}`);
  }

  const audit = async (id: string): Promise<TakedownAudit> =>
    JSON.parse((await hearth('takedown', 'status', id, '--state', p.stack.stateDir, '--json')).stdout) as TakedownAudit;

  /** Every path of `id` through `colo`: 410 (a MISS the origin answered 410) under its secrets, 404 under its store paths; or why not. */
  async function gone(colo: (typeof colos)[number], id: string): Promise<string[]> {
    const out: string[] = [];
    for (const [paths, want] of [
      [pathsOf(id), 410],
      [plainPaths(id), 404],
    ] as const) {
      for (const path of paths) {
        const v = await view(colo, path);
        if (v.status !== want) out.push(`${path}: ${v.status} ${v.cache}`);
      }
    }
    return out;
  }

  it('upload, warm and view (HIT in two colos), delete: every path 410 in every colo, a hint for it pushes nothing, and the audit shows each step', async () => {
    const id = await upload('ladybird.jpg', 91);
    const paths = [pathOf(id, 'z'), pathOf(id, 'm')];
    await warmAndView(id, paths);
    // One URL, one set of bytes: every path of it, stored or made on demand, the same bytes through both colos, with validators.
    for (const path of pathsOf(id)) {
      const [a, b] = await Promise.all(
        colos.map(async (c) => {
          const r = await request(`http://${node(c.name)}${path}`, { headers: { host: c.host } });
          return { status: r.statusCode, body: Buffer.from(await r.body.arrayBuffer()), etag: r.headers.etag, modified: r.headers['last-modified'] };
        }),
      );
      assert.deepEqual([a!.status, b!.status], [200, 200], path);
      assert.ok(a!.body.equals(b!.body), `${path}: the same bytes in both colos`);
      assert.ok(a!.etag && b!.etag && a!.modified && b!.modified, `${path}: ETag and Last-Modified (${String(a!.etag)}, ${String(a!.modified)})`);
    }
    const { stdout } = await hearth('delete', id, '--by', 'the deletion test', '--store', p.root, '--brokers', p.topology.kafka!.listen);
    const deleted = JSON.parse(stdout) as { id: string; removed: number; first: boolean };
    assert.equal(deleted.first, true);
    assert.ok(deleted.removed >= storedLadder().length + 1, `the original and every stored size removed (${deleted.removed})`);
    for (const c of colos) {
      await until(`every path of ${id} gone from ${c.name}`, async () => ((await gone(c, id)).length === 0 ? [] : undefined), 10_000).catch(() => undefined);
      assert.deepEqual(await gone(c, id), []);
    }

    // The warmer refuses it now, in both colos, and counts it.
    const refusedBefore = await refused();
    const hinter = createHinter({ warmers: [p.topology.warmer.udp] });
    for (const c of colos) hinter.hint({ paths, viewer: c.viewer });
    await hinter.close();
    await until('both hints refused as deleted', async () => ((await refused()) >= refusedBefore + 2 * paths.length ? true : undefined), 10_000);

    // The audit: the delete, each colo's two passes, the last byte served before the first.
    const a = await until(
      'both passes of both colos in the audit',
      async () => {
        const x = await audit(id);
        return x.colos.length === 2 && x.colos.every((c) => c.purged && c.repurged) ? x : undefined;
      },
      30_000,
    );
    assert.equal(a.verdict?.verdict, 'deleted');
    assert.equal(a.takedown?.action, 'delete');
    assert.equal(a.takedown?.by, 'the deletion test');
    for (const c of a.colos) {
      assert.equal(c.purged!.cached, pathsOf(id).length, `${c.colo}: the first pass found every path cached (each was fetched through both colos)`);
      assert.ok(c.purged!.ts >= a.takedown.ts && c.repurged!.ts >= a.takedown.ts + 5000 - 50, `${c.colo}: the second pass after the longest fetch`);
      assert.ok(c.lastServed !== null && c.lastServed <= c.purged!.ts, `${c.colo}: last served before its purge`);
      assert.equal(c.servedAfterPurge, 0);
    }
    assert.ok(a.purgeMs !== null && a.purgeMs < 5000, `every colo purged within ${a.purgeMs} ms`);
    const line = (await hearth('takedown', 'status', id, '--state', p.stack.stateDir)).stdout;
    assert.match(
      line,
      new RegExp(
        `^${id}: deleted .* by the deletion test; takedown acknowledged .*; every colo purged within \\d+ ms\\n  sin: purged \\+\\d+ ms \\(11 cached\\), again \\+\\d+ ms, last served `,
      ),
    );
  });

  it('a delete another system asks for on hearth.images.delete is carried out by the takedown worker: gone from every colo, the audit naming who asked', async () => {
    const id = await upload('aqua.jpg', 93);
    await warmAndView(id, [pathOf(id, 'z')]);
    const kafka = new Kafka({ brokers: [p.topology.kafka!.listen], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({ topic: 'hearth.images.delete', messages: [{ key: id, value: JSON.stringify({ id, by: 'the moderation queue, ticket 4711' }) }] });
    } finally {
      await producer.disconnect();
    }
    for (const c of colos) {
      await until(`every path of ${id} gone from ${c.name}`, async () => ((await gone(c, id)).length === 0 ? [] : undefined), 15_000).catch(() => undefined);
      assert.deepEqual(await gone(c, id), []);
    }
    const a = await until(
      'both colos purged',
      async () => {
        const x = await audit(id);
        return x.colos.every((c) => c.purged) ? x : undefined;
      },
      15_000,
    );
    assert.deepEqual([a.verdict?.verdict, a.takedown?.by], ['deleted', 'the moderation queue, ticket 4711']);
    const m = await scrape(p.topology.pipeline!.takedown);
    assert.ok((m.get('hearth_takedown_requests_total{outcome="deleted"}') ?? 0) >= 1);
  });

  it('a colo whose host is down at the delete (cache and purger) purges when it is back, before serving any byte of it again', async () => {
    const id = await upload('garden.jpg', 92);
    const paths = [pathOf(id, 'z')];
    await warmAndView(id, paths);
    const ams = colos[1]!;
    const cache = p.stack.instances().find((n) => n.inst.colo === 'ams')!;
    const purger = p.stack.daemonPid('purge-ams')!;
    await cache.stop();
    process.kill(purger, 'SIGSTOP');
    try {
      await hearth('delete', id, '--by', 'the deletion test', '--store', p.root, '--brokers', p.topology.kafka!.listen);
      assert.deepEqual(await until('gone from sin', async () => ((await gone(colos[0]!, id)).length === 0 ? [] : undefined), 10_000), []);
      const meanwhile = await audit(id);
      assert.equal(meanwhile.colos.find((c) => c.colo === 'ams')?.purged ?? null, null, 'ams has not purged while it is down');
      assert.equal(meanwhile.purgeMs, null);
    } finally {
      // Back in the order a host comes up: its purger catches up from its group's offset.
      process.kill(purger, 'SIGCONT');
    }
    await until('ams purged', async () => ((await audit(id)).colos.find((c) => c.colo === 'ams')?.purged ? true : undefined), 30_000);
    await cache.start();
    assert.deepEqual(await gone(ams, id), []);
    const a = await audit(id);
    assert.equal(a.colos.find((c) => c.colo === 'ams')?.servedAfterPurge, 0);
  });
});
