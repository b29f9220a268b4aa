/**
 * The store service as it runs: `hearth store serve` as a process, reached by the `http`
 * driver, killed with -9 under a write load, fed a damaged needle, asked for its figures.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { HEARTH_CLI } from '../../common/index.js';
import { seededRandom } from '../../common/random.js';
import { DamagedObjectError, HttpStore } from '../../store/index.js';
import { freePorts } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';
import { bytesFor } from '../helpers/volume-writer.js';

const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

interface Served {
  child: ChildProcess;
  url: string;
  status: string;
}

async function serve(dir: string, ports: number[]): Promise<Served> {
  const child = spawn(
    process.execPath,
    [
      HEARTH_CLI,
      'store',
      'serve',
      '--listen',
      `127.0.0.1:${ports[0]}`,
      '--http',
      `127.0.0.1:${ports[1]}`,
      '--dir',
      dir,
      '--volume-bytes',
      String(256 * 1024),
      '--min-free-bytes',
      '0',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const status = `http://127.0.0.1:${ports[1]}`;
  await until(
    'the store service ready',
    async () =>
      (await request(`${status}/readyz`).then(
        (r) => (r.body.dump(), r.statusCode),
        () => 0,
      )) === 200
        ? true
        : undefined,
    20_000,
  );
  return { child, url: `http://127.0.0.1:${ports[0]}`, status };
}

const kill = async (s: Served): Promise<void> => {
  s.child.kill('SIGKILL');
  await new Promise((r) => (s.child.exitCode !== null ? r(undefined) : s.child.once('exit', r)));
};

const metric = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('the store service', function () {
  this.timeout(120_000);

  it(`kill -9 of the service under a write load from the http driver (seed ${SEED}): every acknowledged put reads back byte-exact`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-store-svc-'));
    const ports = await freePorts(2);
    const random = seededRandom(SEED);
    const acked = new Set<string>();
    let next = 0;
    for (let round = 0; round < 4; round++) {
      const s = await serve(dir, ports);
      const client = new HttpStore(s.url);
      let stop = false;
      const writers = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const id = 3_000_000 + next++;
          const key = `/photos/${Math.floor(id / 100)}/${id}_z.jpg`;
          try {
            await client.put(key, bytesFor(key));
            acked.add(key);
          } catch {
            // The service died under this put: not acknowledged, may or may not be there.
          }
        }
      });
      await new Promise((r) => setTimeout(r, 200 + random() * 600));
      await kill(s);
      stop = true;
      await Promise.all(writers);
      await client.close();
    }
    const s = await serve(dir, ports);
    const client = new HttpStore(s.url);
    try {
      assert.ok(acked.size > 100, `only ${acked.size} acknowledged puts`);
      for (const key of acked) assert.ok((await client.get(key)).equals(bytesFor(key)), `${key}: acknowledged, then lost or changed`);
    } finally {
      await client.close();
      await kill(s);
    }
  });

  it('a damaged needle: 500 to the client as DamagedObjectError, counted, on the repair list; figures, readiness and compaction over HTTP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-store-svc-'));
    const ports = await freePorts(2);
    let s = await serve(dir, ports);
    let client = new HttpStore(s.url);
    const keys = Array.from({ length: 60 }, (_, i) => `/photos/${31000 + i}/${3_100_000 + i * 100}_b.jpg`);
    for (const key of keys) await client.put(key, bytesFor(key), { pq: 'x' });
    for (const key of keys.slice(0, 40)) await client.delete(key);
    await client.close();
    await kill(s);
    // One bit of one live needle's data, in whichever volume holds it.
    const victim = keys[45]!;
    const vol = readdirSync(dir)
      .filter((f) => f.endsWith('.vol'))
      .map((f) => join(dir, f))
      .find((f) => readFileSync(f).includes(bytesFor(victim).subarray(64, 96)))!;
    const b = readFileSync(vol);
    const at = b.indexOf(bytesFor(victim).subarray(64, 96));
    b[at] = b[at]! ^ 0x20;
    writeFileSync(vol, b);
    s = await serve(dir, ports);
    client = new HttpStore(s.url);
    try {
      await assert.rejects(client.get(victim), (e: Error) => e instanceof DamagedObjectError && e.key === victim);
      assert.ok((await client.get(keys[46]!)).equals(bytesFor(keys[46]!)));
      assert.deepEqual((await client.head(keys[46]!))?.meta, { pq: 'x' });
      const metrics = await (await request(`${s.status}/metrics`)).body.text();
      assert.equal(metric(metrics, 'hearth_store_integrity_failures_total'), 1);
      assert.equal(metric(metrics, 'hearth_store_objects'), 20);
      assert.match(metrics, /hearth_store_requests_total\{op="get",result="damaged"\} 1/);
      // A finding that is no finding is refused, and the list keeps only what is one.
      for (const body of ['not json', '{"path":1}']) {
        const r = await request(`${s.url}/?damaged`, { method: 'POST', body });
        assert.equal(r.statusCode, 400, await r.body.text());
      }
      const repair = readFileSync(join(dir, '.hearth-damaged.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { path: string; by: string });
      assert.deepEqual(
        repair.map((r) => [r.path, r.by]),
        [[victim, 'store']],
      );
      // Ranges as HTTP has them, of a checked needle; a damaged needle gives none.
      const whole = bytesFor(keys[46]!);
      for (const [range, status, want] of [
        ['bytes=0-9', 206, whole.subarray(0, 10)],
        ['bytes=-10', 206, whole.subarray(-10)],
        [`bytes=${whole.length - 3}-`, 206, whole.subarray(-3)],
        [`bytes=${whole.length}-`, 416, Buffer.alloc(0)],
        ['bytes=5-2', 416, Buffer.alloc(0)],
        ['items=0-1', 200, whole],
      ] as const) {
        const r = await request(`${s.url}${keys[46]!}`, { headers: { range } });
        assert.equal(r.statusCode, status, range);
        assert.ok(Buffer.from(await r.body.arrayBuffer()).equals(want), range);
      }
      const ranged = await request(`${s.url}${victim}`, { headers: { range: 'bytes=0-9' } });
      assert.equal(ranged.statusCode, 500, 'no range of a damaged needle');
      assert.equal(((await ranged.body.json()) as { code: string }).code, 'HEARTH_ERR_INTEGRITY');
      const stats = (await (await request(`${s.status}/stats`)).body.json()) as {
        objects: number;
        garbageRatio: number;
        perVolume: { name: string; sealed: boolean }[];
      };
      assert.equal(stats.objects, 20);
      assert.ok(stats.garbageRatio > 0.5);
      const sealed = stats.perVolume.find((v) => v.sealed)!;
      const compacted = await request(`${s.status}/compact?volume=${sealed.name}`, { method: 'POST' });
      assert.equal(compacted.statusCode, 200, await compacted.body.text());
      for (const key of keys.slice(40)) if (key !== victim) assert.ok((await client.get(key)).equals(bytesFor(key)), key);
      assert.equal(await client.ready(), true);
      // hearth store verify finds the same needle, says so on stdout and in its metrics file, and exits 1.
      const metricsFile = join(dir, 'verify.prom');
      const verify = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(process.execPath, [HEARTH_CLI, 'store', 'verify', '--url', s.status, '--mb-per-s', '0', '--metrics-file', metricsFile], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.once('exit', (code) => resolve({ code, out }));
      });
      assert.equal(verify.code, 1);
      const summary = JSON.parse(verify.out) as { checked: number; damaged: number; first: { key: string }[] };
      assert.deepEqual([summary.checked, summary.damaged, summary.first[0]?.key], [20, 1, victim]);
      assert.equal(metric(readFileSync(metricsFile, 'utf8'), 'hearth_store_verify_damaged_needles{component="store-verify"}'), 1);
    } finally {
      await client.close();
      await kill(s);
    }
    // A client of a store that is not there: a clear, transient error, after its retries.
    const gone = new HttpStore(s.url);
    await assert.rejects(gone.get(keys[50]!), { code: 'ECONNREFUSED' });
    assert.match(String(await gone.ready()), /unreachable/);
    await gone.close();
  });
});
