/**
 * What every driver of the store interface must do, S3's semantics over store paths:
 * one contract, run against each driver (today `dir`), so a new driver is held to the
 * same cases rather than to its own.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testCeph } from '../helpers/test-ceph.js';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { freePorts } from '../helpers/test-stack.js';
import {
  damageReportFile,
  DamagedObjectError,
  DirStore,
  HttpStore,
  parseS3Spec,
  S3Store,
  ObjectNotFoundError,
  StoreEscapeError,
  UnreadableObjectError,
  VolumeEngine,
  type DamageFinding,
  type ObjectStore,
} from '../../store/index.js';
import { loadStoreServerConfig, StoreServer } from '../../store-server/index.js';

const open: ObjectStore[] = [];
type Finding = DamageFinding & { ts: string };
/** The repair list a directory keeps (dir, volumes). */
const findingsIn = (root: string) => (): Promise<Finding[]> =>
  Promise.resolve(
    readFileSync(damageReportFile(root), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Finding),
  );
const DRIVERS: { name: string; make: () => Promise<{ store: ObjectStore; findings: () => Promise<Finding[]> }> }[] = [
  {
    name: 'dir',
    make: () => {
      const root = mkdtempSync(join(tmpdir(), 'hearth-objstore-'));
      return Promise.resolve({ store: new DirStore(root), findings: findingsIn(root) });
    },
  },
  {
    name: 'volumes',
    make: async () => {
      const root = mkdtempSync(join(tmpdir(), 'hearth-objstore-'));
      // Small volumes, so the contract also crosses from one volume into the next.
      const store = await VolumeEngine.open({ dir: root, volumeBytes: 4096, minFreeBytes: 0 });
      open.push(store);
      return { store, findings: findingsIn(root) };
    },
  },
  {
    name: 'volumes, through the store service (http)',
    make: async () => {
      const root = mkdtempSync(join(tmpdir(), 'hearth-objstore-'));
      const server = new StoreServer(
        loadStoreServerConfig(undefined, {
          listen: { port: 0 },
          http: { port: 0 },
          volumes: { dir: root, volumeBytes: 64 * 1024, minFreeBytes: 0 },
          log: { level: 'silent' },
        }),
      );
      const { port } = await server.start();
      servers.push(server);
      const store = new HttpStore(`http://127.0.0.1:${port}`);
      open.push(store);
      return { store, findings: findingsIn(root) };
    },
  },
  {
    name: 's3, on a real Ceph cluster (RADOS Gateway)',
    make: async () => {
      const ceph = await testCeph();
      // A bucket per case, as the other drivers get a directory per case.
      const bucket = `contract-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      await ceph.createBucket(bucket);
      const store = new S3Store(ceph.storeSpecFor(bucket));
      open.push(store);
      return {
        store,
        findings: async () => {
          const out: Finding[] = [];
          for await (const f of store.findings()) out.push(f);
          return out;
        },
      };
    },
  },
];
const servers: StoreServer[] = [];
after(async () => {
  for (const s of open) await s.close();
  for (const s of servers) await s.stop();
});

const bytes = (s: string): Buffer => Buffer.from(s);
async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out;
}

for (const { name, make } of DRIVERS) {
  describe(`the store interface: ${name} driver`, () => {
    it('put, get and head: whole objects, replaced atomically; a missing key is ObjectNotFoundError, or no head', async () => {
      const { store } = await make();
      await store.put('/photos/1/100_z.jpg', bytes('one'));
      assert.deepEqual(await store.get('/photos/1/100_z.jpg'), bytes('one'));
      await store.put('/photos/1/100_z.jpg', bytes('three'));
      assert.deepEqual(await store.get('/photos/1/100_z.jpg'), bytes('three'));
      assert.equal((await store.head('/photos/1/100_z.jpg'))?.size, 5);
      assert.equal(await store.head('/photos/1/101_z.jpg'), undefined);
      await assert.rejects(store.get('/photos/1/101_z.jpg'), ObjectNotFoundError);
      await assert.rejects(store.get('/photos/9/nothing/below.jpg'), { code: 'HEARTH_ERR_NOT_FOUND' });
    });

    it('putIfAbsent creates once and never replaces', async () => {
      const { store } = await make();
      assert.equal(await store.putIfAbsent('/originals/1/100.jpg', bytes('first')), true);
      assert.equal(await store.putIfAbsent('/originals/1/100.jpg', bytes('second')), false);
      assert.deepEqual(await store.get('/originals/1/100.jpg'), bytes('first'));
      // Concurrent creators of one key: exactly one wins, and its bytes are what is stored.
      const results = await Promise.all(['a', 'b', 'c', 'd'].map((x) => store.putIfAbsent('/originals/1/101.jpg', bytes(x))));
      assert.equal(results.filter(Boolean).length, 1);
      assert.deepEqual(await store.get('/originals/1/101.jpg'), bytes(['a', 'b', 'c', 'd'][results.indexOf(true)]!));
    });

    it("copy makes the target hold the source's bytes (replacing it); delete removes, and says whether there was anything", async () => {
      const { store } = await make();
      await store.put('/originals/1/100.jpg', bytes('photo'));
      await store.put('/originals/1/102.jpg', bytes('other'));
      await store.copy('/originals/1/100.jpg', '/originals/1/102.jpg');
      await store.copy('/originals/1/100.jpg', '/quarantine/1/100.jpg');
      assert.deepEqual(await store.get('/originals/1/102.jpg'), bytes('photo'));
      assert.deepEqual(await store.get('/quarantine/1/100.jpg'), bytes('photo'));
      await assert.rejects(store.copy('/originals/1/999.jpg', '/originals/1/103.jpg'), ObjectNotFoundError);
      assert.equal(await store.delete('/originals/1/100.jpg'), true);
      assert.equal(await store.delete('/originals/1/100.jpg'), false);
      assert.deepEqual(await store.get('/quarantine/1/100.jpg'), bytes('photo'), 'a copy outlives its source');
    });

    it("lists by prefix, sorted, objects only (never the store's own temp files or state)", async () => {
      const { store } = await make();
      for (const k of ['/photos/10/1000_z.jpg', '/photos/1/100_z.jpg', '/photos/1/100_s.jpg', '/originals/1/100.jpg', '/photos/1/100_z.jpg.hearth-pq.json'])
        await store.put(k, bytes(k));
      assert.deepEqual(await keys(store, '/photos/'), [
        '/photos/1/100_s.jpg',
        '/photos/1/100_z.jpg',
        '/photos/1/100_z.jpg.hearth-pq.json',
        '/photos/10/1000_z.jpg',
      ]);
      assert.deepEqual(await keys(store, '/photos/1/100_z'), ['/photos/1/100_z.jpg', '/photos/1/100_z.jpg.hearth-pq.json']);
      assert.deepEqual(await keys(store, '/photos/1'), [
        '/photos/1/100_s.jpg',
        '/photos/1/100_z.jpg',
        '/photos/1/100_z.jpg.hearth-pq.json',
        '/photos/10/1000_z.jpg',
      ]);
      assert.deepEqual(await keys(store, '/nothing/'), []);
      assert.equal((await keys(store, '/')).length, 5);
    });

    it('keeps metadata with its object: written with it, replaced with it, copied with it, gone with it', async () => {
      const { store } = await make();
      await store.put('/photos/1/100_z.jpg', bytes('resize'), { pq: '{"q":78}' });
      assert.deepEqual(await store.head('/photos/1/100_z.jpg'), { ...(await store.head('/photos/1/100_z.jpg')), size: 6, meta: { pq: '{"q":78}' } });
      await store.copy('/photos/1/100_z.jpg', '/photos/1/100_b.jpg');
      assert.deepEqual((await store.head('/photos/1/100_b.jpg'))?.meta, { pq: '{"q":78}' });
      await store.put('/photos/1/100_z.jpg', bytes('other'));
      assert.deepEqual((await store.head('/photos/1/100_z.jpg'))?.meta, {}, 'a put without metadata leaves none behind');
      assert.equal(await store.putIfAbsent('/originals/1/100.jxl', bytes('jxl'), { digest: 'a' }), true);
      assert.equal(await store.putIfAbsent('/originals/1/100.jxl', bytes('jxl2'), { digest: 'b' }), false);
      assert.deepEqual((await store.head('/originals/1/100.jxl'))?.meta, { digest: 'a' }, 'a refused create leaves the metadata as it was');
      await store.delete('/originals/1/100.jxl');
      await store.putIfAbsent('/originals/1/100.jxl', bytes('jxl3'));
      assert.deepEqual((await store.head('/originals/1/100.jxl'))?.meta, {}, "a deleted object's metadata does not come back");
      await assert.rejects(store.put('/photos/1/101_z.jpg', bytes('x'), { Bad: 'x' }), { code: 'HEARTH_ERR_INVALID' });
      await assert.rejects(store.put('/photos/1/101_z.jpg', bytes('x'), { big: 'x'.repeat(3000) }), { code: 'HEARTH_ERR_INVALID' });
      assert.deepEqual(
        [
          ...(await (async () => {
            const o = [];
            for await (const x of store.list('/photos/1/100_b')) o.push(x.meta);
            return o;
          })()),
        ],
        [{ pq: '{"q":78}' }],
      );
      // Longer than a needle's first bytes (a real perceptual marker runs to ~300): still whole in head and list.
      const long = { pq: JSON.stringify({ inputSha: 'a'.repeat(64), outputSha: 'b'.repeat(64), quality: 77, score: 0.98, pad: 'c'.repeat(900) }) };
      await store.put('/photos/1/102_z.jpg', bytes('resize'), long);
      assert.deepEqual((await store.head('/photos/1/102_z.jpg'))?.meta, long);
      for await (const x of store.list('/photos/1/102_')) assert.deepEqual(x.meta, long);
    });

    it('keeps a repair list: each finding one JSON line, wherever the store keeps it', async () => {
      const { store, findings } = await make();
      await store.reportDamage({ path: '/originals/1/100.jxl', reason: 'mismatch', by: 'scrub', error: 'x'.repeat(5000) });
      await store.reportDamage({ path: '/originals/1/101.jxl', reason: 'no_digest', by: 'origin', error: '' });
      const lines = await findings();
      assert.deepEqual(
        lines.map((l) => [l.path, l.reason, l.by]),
        [
          ['/originals/1/100.jxl', 'mismatch', 'scrub'],
          ['/originals/1/101.jxl', 'no_digest', 'origin'],
        ],
      );
      // Bounded: no report grows the list by more than a short line.
      assert.ok(lines[0]!.error.length <= 1024);
      await assert.rejects(store.reportDamage({ path: 1 } as unknown as DamageFinding), { code: 'HEARTH_ERR_INVALID' });
    });

    it('refuses keys that leave the store', async () => {
      const { store } = await make();
      for (const k of ['/../../etc/passwd', '/photos/../../x']) {
        await assert.rejects(store.get(k), StoreEscapeError);
        await assert.rejects(store.put(k, bytes('x')), StoreEscapeError);
      }
    });
  });
}

describe('the dir driver, beyond the contract', () => {
  it('never reads a FIFO (without blocking), a directory, a device or a file over the cap; never follows a link out of the store', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-objstore-'));
    const store = new DirStore(root);
    mkdirSync(join(root, 'originals', '1'), { recursive: true });
    execFileSync('mkfifo', [join(root, 'originals/1/100.jpg')]);
    mkdirSync(join(root, 'originals/1/101.jpg'));
    writeFileSync(join(root, 'originals/1/102.jpg'), '');
    truncateSync(join(root, 'originals/1/102.jpg'), 3 * 2 ** 30);
    symlinkSync('/dev/zero', join(root, 'originals/1/103.jpg'));
    writeFileSync(join(root, 'inside.jpg'), 'inside');
    symlinkSync(join(root, 'inside.jpg'), join(root, 'originals/1/104.jpg'));
    await assert.rejects(store.get('/originals/1/100.jpg'), (e: UnreadableObjectError) => e.code === 'HEARTH_ERR_NOT_A_FILE' && /a FIFO/.test(e.message));
    await assert.rejects(store.get('/originals/1/101.jpg'), (e: UnreadableObjectError) => e.code === 'HEARTH_ERR_NOT_A_FILE' && /a directory/.test(e.message));
    await assert.rejects(store.get('/originals/1/102.jpg'), (e: UnreadableObjectError) => e.code === 'HEARTH_ERR_TOO_LARGE');
    await assert.rejects(store.get('/originals/1/103.jpg'), StoreEscapeError);
    assert.deepEqual(await store.get('/originals/1/104.jpg'), Buffer.from('inside'));
    assert.equal(await store.head('/originals/1/100.jpg'), undefined, 'a FIFO is no object');
  });

  it('keeps temp files in one directory, and its sweep removes only those of writers that are gone', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-objstore-'));
    const store = new DirStore(root);
    await store.put('/photos/1/100_z.jpg', Buffer.from('x'));
    mkdirSync(store.tempDir, { recursive: true });
    writeFileSync(join(store.tempDir, '100_z.jpg.tmp-0-00aa'), 'dead');
    writeFileSync(join(store.tempDir, `100_z.jpg.tmp-${process.pid}-00bb`), 'live');
    assert.equal(await store.sweep(), 1);
    assert.equal(await store.sweep(), 0);
  });
});

describe('the s3 driver, beyond the contract', () => {
  it('reads the store spec: AWS by bucket, another endpoint by URL, and refuses what is neither', () => {
    assert.deepEqual(parseS3Spec('s3://photos?region=eu-west-1'), { bucket: 'photos', region: 'eu-west-1', credentials: undefined });
    assert.deepEqual(parseS3Spec('s3+http://10.0.0.5:7480/hearth?credentials=%2Fetc%2Fhearth%2Fs3.json'), {
      bucket: 'hearth',
      endpoint: 'http://10.0.0.5:7480',
      region: process.env.AWS_REGION ?? 'us-east-1',
      credentials: '/etc/hearth/s3.json',
    });
    for (const bad of ['s3+http://10.0.0.5:7480/', 's3+http://10.0.0.5:7480/Bad_Bucket', 'ftp://x/y', 's3+ftp://x/y'])
      assert.throws(() => parseS3Spec(bad), { code: 'HEARTH_ERR_INVALID' }, bad);
  });

  it('checks every read against the digest written with the object: damaged bytes are never returned, and go on the repair list', async () => {
    const ceph = await testCeph();
    const bucket = `damage-${Date.now().toString(36)}`;
    await ceph.createBucket(bucket);
    const store = new S3Store(ceph.storeSpecFor(bucket));
    open.push(store);
    await store.put('/originals/1/100.jpg', bytes('the photograph'), { pq: 'x' });
    // Bytes changed behind the driver's back (a bad disk, another writer), the digest kept.
    const client = ceph.s3Client();
    const { Metadata } = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'originals/1/100.jpg' }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'originals/1/100.jpg', Body: 'the phtograph!', Metadata }));
    client.destroy();
    await assert.rejects(store.get('/originals/1/100.jpg'), (e: Error) => e instanceof DamagedObjectError && /xxHash64/.test(e.message));
    const found: DamageFinding[] = [];
    for await (const f of store.findings()) found.push(f);
    assert.deepEqual(found.map((f) => [f.path, f.reason, f.by]).slice(0, 1), [['/originals/1/100.jpg', 'checksum', 'store']]);
    assert.deepEqual(await keys(store, '/'), ['/originals/1/100.jpg'], 'the repair list is no object');
    await assert.rejects(store.put('/photos/1/1_z.jpg', bytes('x'), { 'hearth-xxh64': '0' }), { code: 'HEARTH_ERR_INVALID' });
    await assert.rejects(store.get('/.hearth-damaged/x.json'), { code: 'HEARTH_ERR_INVALID' });
    await store.put('/photos/1/100_z.jpg', Buffer.alloc(2 * 1024 * 1024));
    await assert.rejects(store.get('/photos/1/100_z.jpg', 1024 * 1024), { code: 'HEARTH_ERR_TOO_LARGE' });
  });

  it('keeps metadata that is not plain ASCII as it was given', async () => {
    const ceph = await testCeph();
    const store = new S3Store(ceph.storeSpec);
    open.push(store);
    const meta = { title: 'Zürich, 北京', spaces: ' padded ', empty: '' };
    await store.put('/photos/1/200_z.jpg', bytes('x'), meta);
    assert.deepEqual((await store.head('/photos/1/200_z.jpg'))?.meta, meta);
  });

  it('ends a store that does not answer as HEARTH_ERR_STORE_UNAVAILABLE after its retries (what the Kafka tiers retry), and says why it is not ready', async () => {
    const [port] = await freePorts(1);
    const store = new S3Store(`s3+http://127.0.0.1:${port}/hearth`, { attempts: 2 });
    open.push(store);
    await assert.rejects(store.get('/photos/1/100_z.jpg'), { code: 'HEARTH_ERR_STORE_UNAVAILABLE' });
    assert.match(String(await store.ready()), /unreachable/);
    const ceph = await testCeph();
    const missing = new S3Store(ceph.storeSpecFor('no-such-bucket'));
    open.push(missing);
    assert.match(String(await missing.ready()), /no bucket no-such-bucket/);
  });
});
