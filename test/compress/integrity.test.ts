/**
 * Originals kept only as JPEG XL: a damaged .jxl is never served, whatever it decodes
 * to. Before digests, 7 of 200 single-bit flips of one fixture's .jxl reconstructed
 * silently to other bytes and were served as 200.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { createLogger } from '../../common/logger.js';
import { parsePromText } from '../../common/prom-text.js';
import { recompressOriginals } from '../../compress/lossless.js';
import { digestMeta, digestOf, legacyDigestKey, readDigest } from '../../image/jxl-digest.js';
import { DirStore, HttpStore, damageReportFile } from '../../store/index.js';
import { loadStoreServerConfig, StoreServer } from '../../store-server/index.js';
import { scrub } from '../../compress/scrub.js';
import { reconstruct } from '../../image/jxl.js';
import { OriginServer } from '../../origin/server.js';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { FIXTURES } from '../helpers/test-stack.js';

const run = promisify(execFile);
const quiet = createLogger('integrity-test', 'silent');
const ENCODE = { quality: 85, progressive: true, chromaSubsampling: '4:2:0' } as const;

/** A store holding the given fixtures as originals, converted to verified .jxl with digests. */
async function convertedStore(photos: string[]): Promise<{ store: string; jxl: string[]; originals: Buffer[] }> {
  const store = mkdtempSync(join(tmpdir(), 'hearth-integrity-'));
  mkdirSync(join(store, 'originals', '5000'), { recursive: true });
  const originals = photos.map((p, i) => {
    copyFileSync(join(FIXTURES, p), join(store, 'originals', '5000', `50000${i}.jpg`));
    return readFileSync(join(FIXTURES, p));
  });
  const results = await recompressOriginals({ store, policy: {}, log: quiet });
  assert.deepEqual(
    results.map((r) => r.outcome),
    photos.map(() => 'converted'),
  );
  return { store, jxl: photos.map((_, i) => join(store, 'originals', '5000', `50000${i}.jxl`)), originals };
}

const keyOf = (store: string, file: string): string => file.slice(store.length);

/** The .jxl as a store from before digests moved into metadata kept it: no metadata, and `sidecar` (if any) beside it. */
async function asLegacy(store: string, file: string, sidecar?: string): Promise<void> {
  const s = new DirStore(store);
  await s.put(keyOf(store, file), readFileSync(file));
  if (sidecar !== undefined) await s.put(legacyDigestKey(keyOf(store, file)), Buffer.from(sidecar));
}

function flipped(data: Buffer, offset: number): Buffer {
  const c = Buffer.from(data);
  c.writeUInt8(c.readUInt8(offset) ^ 1, offset);
  return c;
}

/** Offsets spread evenly over a file, as the probe in issue 9 did. */
const spread = (length: number, n: number): number[] => Array.from({ length: n }, (_, i) => Math.floor(((i + 0.5) * length) / n));

describe('integrity of originals kept as JPEG XL', function () {
  this.timeout(120000);

  it('the lossless tier records the original’s SHA-256 and length with the .jxl, as its metadata, before the original goes', async () => {
    const { store, jxl, originals } = await convertedStore(['aqua.jpg']);
    assert.equal((await new DirStore(store).head(keyOf(store, jxl[0]!)))?.meta['jpeg-bytes'], String(originals[0]!.length));
    const d = await readDigest(new DirStore(store), keyOf(store, jxl[0]!));
    assert.ok(d);
    assert.equal(d.bytes, originals[0]!.length);
    assert.equal(d.sha256, createHash('sha256').update(originals[0]!).digest('hex'));
    assert.equal(d.source, 'transcode');
  });

  it('a run that finds a .jxl beside its original (a crash before the removal) writes a missing digest before removing it', async () => {
    const { store, jxl, originals } = await convertedStore(['garden.jpg']);
    await asLegacy(store, jxl[0]!);
    writeFileSync(join(store, 'originals', '5000', '500000.jpg'), originals[0]!);
    const again = await recompressOriginals({ store, policy: {}, log: quiet });
    assert.deepEqual(
      again.map((r) => r.outcome),
      ['finished_earlier_run'],
    );
    assert.equal((await readDigest(new DirStore(store), keyOf(store, jxl[0]!)))?.bytes, originals[0]!.length);
  });

  it('the origin never serves a bit-flipped .jxl whose reconstruction differs: 500, no-store, counted, reported for repair', async () => {
    const { store, jxl, originals } = await convertedStore(['aqua.jpg']);
    const good = readFileSync(jxl[0]!);
    const origin = new OriginServer({
      store,
      host: '127.0.0.1',
      port: 0,
      metrics: { host: '127.0.0.1', port: 0 },
      storeDerived: false,
      maxConcurrent: 2,
      maxQueue: 8,
      encode: ENCODE,
      logger: quiet,
    });
    const a = await origin.start();
    try {
      let silent = 0;
      let refused = 0;
      for (const offset of spread(good.length, 200)) {
        const bad = flipped(good, offset);
        writeFileSync(jxl[0]!, bad);
        // What an unchecked reconstruction makes of it: the hazard this test guards against.
        if (
          await reconstruct(bad).then(
            (j) => !j.equals(originals[0]!),
            () => false,
          )
        )
          silent++;
        const r = await request(`http://127.0.0.1:${a.port}/originals/5000/500000.jpg`);
        const body = Buffer.from(await r.body.arrayBuffer());
        if (r.statusCode === 200) assert.ok(body.equals(originals[0]!), `offset ${offset}: served other bytes than the original`);
        else {
          assert.equal(r.statusCode, 500, `offset ${offset}`);
          assert.equal(r.headers['cache-control'], 'no-store');
          refused++;
        }
      }
      assert.ok(silent > 0, 'no flip reconstructed silently to other bytes; the test would not catch the fault');
      assert.ok(refused >= 190, `only ${refused} of 200 flips refused`);
      writeFileSync(jxl[0]!, good);
      const ok = await request(`http://127.0.0.1:${a.port}/originals/5000/500000.jpg`);
      assert.equal(ok.statusCode, 200);
      assert.ok(Buffer.from(await ok.body.arrayBuffer()).equals(originals[0]!));
      const m = parsePromText(await (await request(`http://127.0.0.1:${origin.metricsAddress()!.port}/metrics`)).body.text());
      assert.ok((m.get('hearth_origin_integrity_failures_total{reason="mismatch"}') ?? 0) >= silent);
      assert.equal(m.get('hearth_origin_requests_total{result="damaged"}'), refused);
      const report = readFileSync(damageReportFile(store), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { path: string; by: string });
      assert.deepEqual(
        report.map((l) => [l.path, l.by]),
        [['/originals/5000/500000.jxl', 'origin']],
        'reported once per file',
      );
    } finally {
      await origin.stop();
    }
  });

  it('a .jxl without a digest, or with a damaged one, is never trusted: 500 with its reason; a sound sidecar of a store from before is', async () => {
    const { store, jxl, originals } = await convertedStore(['aqua.jpg', 'garden.jpg', 'ladybird.jpg']);
    await asLegacy(store, jxl[0]!);
    await asLegacy(store, jxl[1]!, '{"v":1,"sha256":"zz"');
    await asLegacy(store, jxl[2]!, JSON.stringify(digestOf(originals[2]!)));
    const origin = new OriginServer({ store, host: '127.0.0.1', port: 0, storeDerived: false, maxConcurrent: 2, maxQueue: 8, encode: ENCODE, logger: quiet });
    const a = await origin.start();
    try {
      for (const id of ['500000', '500001']) {
        const r = await request(`http://127.0.0.1:${a.port}/originals/5000/${id}.jpg`);
        await r.body.dump();
        assert.equal(r.statusCode, 500, id);
      }
      const legacy = await request(`http://127.0.0.1:${a.port}/originals/5000/500002.jpg`);
      assert.equal(legacy.statusCode, 200);
      assert.ok(Buffer.from(await legacy.body.arrayBuffer()).equals(originals[2]!));
      const byReason = async (reason: string) => (await origin.metrics.integrity.get()).values.find((v) => v.labels.reason === reason)?.value;
      assert.equal(await byReason('no_digest'), 1);
      assert.equal(await byReason('bad_digest'), 1);
    } finally {
      await origin.stop();
    }
  });

  it('hearth compress scrub reports every damaged or unverifiable .jxl, exits 1, and adopts digest-less ones only when asked', async () => {
    const { store, jxl, originals } = await convertedStore(['aqua.jpg', 'garden.jpg', 'ladybird.jpg']);
    // jxl[0] stays good; jxl[1] gets a flip that still reconstructs (to other bytes); jxl[2] loses its digest.
    const good1 = readFileSync(jxl[1]!);
    let damagedOffset: number | undefined;
    for (const offset of spread(good1.length, 200)) {
      writeFileSync(jxl[1]!, flipped(good1, offset));
      if (
        await reconstruct(flipped(good1, offset)).then(
          (j) => !j.equals(originals[1]!),
          () => false,
        )
      ) {
        damagedOffset = offset;
        break;
      }
    }
    assert.ok(damagedOffset !== undefined, 'found no flip that still reconstructs');
    await asLegacy(store, jxl[2]!);
    const metricsFile = join(store, 'scrub.prom');
    const scrubRun = async (...extra: string[]) =>
      run(process.execPath, [HEARTH_CLI, 'compress', 'scrub', '--store', store, '--metrics-file', metricsFile, ...extra]).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
    const lines = (stdout: string) =>
      stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { path?: string; outcome?: string; summary?: boolean; damaged?: number });
    const first = await scrubRun();
    assert.equal(first.code, 1);
    const out = lines(first.stdout);
    assert.deepEqual(
      out.filter((l) => !l.summary).map((l) => [l.path, l.outcome]),
      [
        ['/originals/5000/500000.jxl', 'ok'],
        ['/originals/5000/500001.jxl', 'mismatch'],
        ['/originals/5000/500002.jxl', 'no_digest'],
      ],
    );
    assert.equal(out.at(-1)?.damaged, 2);
    const m = parsePromText(readFileSync(metricsFile, 'utf8'));
    assert.equal(m.get('hearth_scrub_damaged_files{component="scrub"}'), 2);
    assert.equal(m.get('hearth_scrub_files_total{result="mismatch",component="scrub"}'), 1);
    assert.ok(existsSync(damageReportFile(store)));

    const adopted = await scrubRun('--adopt');
    assert.equal(adopted.code, 1, 'the mismatch is still there');
    assert.deepEqual(
      lines(adopted.stdout)
        .filter((l) => !l.summary)
        .map((l) => l.outcome),
      ['ok', 'mismatch', 'adopted'],
    );
    assert.equal((await readDigest(new DirStore(store), keyOf(store, jxl[2]!)))?.source, 'adopted');

    writeFileSync(jxl[1]!, good1);
    const clean = await scrubRun();
    assert.equal(clean.code, 0);
    assert.deepEqual(
      lines(clean.stdout)
        .filter((l) => !l.summary)
        .map((l) => l.outcome),
      ['ok', 'ok', 'ok'],
    );
  });

  it('on volumes behind the store service: the batch converts, the origin reconstructs, the scrub finds a damaged needle (checksum) and a flipped digest (mismatch)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-integrity-volumes-'));
    const server = new StoreServer(
      loadStoreServerConfig(undefined, {
        listen: { port: 0 },
        http: { port: 0 },
        volumes: { dir: join(root, 'volumes'), minFreeBytes: 0 },
        log: { level: 'silent' },
      }),
    );
    const url = `http://127.0.0.1:${(await server.start()).port}`;
    const store = new HttpStore(url);
    const origin = new OriginServer({
      store: url,
      host: '127.0.0.1',
      port: 0,
      storeDerived: false,
      maxConcurrent: 2,
      maxQueue: 8,
      encode: ENCODE,
      logger: quiet,
    });
    try {
      const photos = ['aqua.jpg', 'garden.jpg', 'ladybird.jpg'];
      const originals = photos.map((p) => readFileSync(join(FIXTURES, p)));
      for (const [i, data] of originals.entries()) await store.put(`/originals/5000/50000${i}.jpg`, data);
      // A store service keeps no tier's files: the batch needs a state directory, and says so without one.
      await assert.rejects(recompressOriginals({ store: url, policy: {}, log: quiet }), /--state-dir/);
      const results = await recompressOriginals({ store: url, stateDir: join(root, 'lossless'), policy: {}, log: quiet });
      assert.deepEqual(
        results.map((r) => r.outcome),
        ['converted', 'converted', 'converted'],
      );
      assert.equal(await store.head('/originals/5000/500000.jpg'), undefined, 'the original went');
      const a = await origin.start();
      const served = await request(`http://127.0.0.1:${a.port}/originals/5000/500001.jpg`);
      assert.equal(served.statusCode, 200);
      assert.ok(Buffer.from(await served.body.arrayBuffer()).equals(originals[1]!));

      // Bit rot inside a needle, on disk: the store's checksum refuses it.
      const jxl0 = await store.get('/originals/5000/500000.jxl');
      const vol = join(
        root,
        'volumes',
        readdirSync(join(root, 'volumes')).find((f) => f.endsWith('.vol'))!,
      );
      const onDisk = readFileSync(vol);
      const at = onDisk.indexOf(jxl0.subarray(0, 64));
      assert.ok(at > 0);
      writeFileSync(vol, flipped(onDisk, at + Math.floor(jxl0.length / 2)));
      // A digest that names other bytes: the reconstruction is refused.
      const jxl2 = await store.get('/originals/5000/500002.jxl');
      await store.put('/originals/5000/500002.jxl', jxl2, digestMeta(digestOf(Buffer.from('another original'))));
      const outcomes: string[] = [];
      const checked = await scrub({ store: url, bytesPerSecond: 1e9, adopt: false, log: quiet, onResult: (r) => outcomes.push(`${r.path} ${r.outcome}`) });
      assert.equal(checked.length, 3);
      assert.deepEqual(outcomes, ['/originals/5000/500000.jxl checksum', '/originals/5000/500001.jxl ok', '/originals/5000/500002.jxl mismatch']);
      const broken = await request(`http://127.0.0.1:${a.port}/originals/5000/500000.jpg`);
      await broken.body.dump();
      assert.equal(broken.statusCode, 500);
      assert.equal(broken.headers['cache-control'], 'no-store');
      // One repair list, kept by the store service: the store's own finding and the scrub's.
      const report = readFileSync(damageReportFile(join(root, 'volumes')), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { path: string; by: string; reason: string });
      assert.ok(report.some((l) => l.path === '/originals/5000/500000.jxl' && l.by === 'store' && l.reason === 'checksum'));
      assert.ok(report.some((l) => l.path === '/originals/5000/500002.jxl' && l.by === 'scrub' && l.reason === 'mismatch'));
    } finally {
      await origin.stop();
      await store.close();
      await server.stop();
    }
  });
});
