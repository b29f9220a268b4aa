/** The identity tier's worker through a real Kafka broker, on real photographs; its ledger and blocklist on their own. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import sharp from 'sharp';
import { createLogger } from '../../common/logger.js';
import { seededRandom } from '../../common/random.js';
import { Blocklist, parseBlocklist } from '../../identity/blocklist.js';
import { loadIdentityConfig } from '../../identity/config.js';
import { GrowingHammingIndex } from '../../identity/hamming-index.js';
import { CorruptLedgerError, LedgerWriter, RECORD_BYTES, ledgerFile, readLedger } from '../../identity/ledger.js';
import { hamming, pdqOf } from '../../identity/pdq.js';
import { IdentityWorker } from '../../identity/worker.js';
import { imagePath, originalPath } from '../../image/store.js';
import { openStore, storeFile } from '../../store/index.js';
import { BadVerdictError, quarantinePath, readVerdict, verdictPath } from '../../image/verdicts.js';
import { ValidationError } from '../../common/schema.js';
import { TOPICS, ensureTopics } from '../../kafka/client.js';
import { testKafka, watchTopics } from '../helpers/test-kafka.js';
import { heicOf } from '../helpers/heif.js';
import { until } from '../helpers/until.js';

let nextId = 5_100_000 + Math.floor(Math.random() * 1000) * 1000;
/** The fuzz's seed: HEARTH_FUZZ_SEED replays a run; printed when a fuzz test fails. */
const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const random = seededRandom(SEED);
/** Bytes that are sometimes JSON-ish, sometimes hex-ish, mostly not. */
const randomJunk = (): Buffer => {
  const pick = random();
  if (pick < 0.3)
    return Buffer.from(
      JSON.stringify({ v: 1, verdict: random() < 0.5 ? 'duplicate' : 'quarantined', of: random() < 0.5 ? '12' : 12, at: 1 }).slice(
        0,
        Math.floor(random() * 80),
      ),
    );
  if (pick < 0.6)
    return Buffer.from(Array.from({ length: 1 + Math.floor(random() * 200) }, () => '0123456789abcdef\n#xyz '[Math.floor(random() * 21)]).join(''));
  return Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
};
const random32 = (): Buffer => Buffer.from(Array.from({ length: 32 }, () => Math.floor(random() * 256)));

describe('identity ledger, blocklist and growing Hamming index', () => {
  it('ledger: appended records read back, from any record on; a torn tail is cut off by its writer only; damage before the tail is refused', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hearth-ledger-')), 'ledger');
    const w = await LedgerWriter.open(file);
    const records = Array.from({ length: 5 }, (_, i) => ({
      id: String(1000 + i),
      fingerprint: BigInt(i) * 0x1234567890abn,
      size: 1000 * i + 1,
      pdq: random32(),
      quality: 60 + i,
    }));
    await Promise.all(records.map((r) => w.append(r)));
    await w.close();
    assert.deepEqual((await readLedger(file)).records, records);
    assert.deepEqual(await readLedger(file, { from: 3 * RECORD_BYTES }), { records: records.slice(3), torn: 0, bytes: 5 * RECORD_BYTES });
    await assert.rejects(readLedger(file, { from: RECORD_BYTES / 2 }), RangeError);
    appendFileSync(file, Buffer.alloc(RECORD_BYTES / 2, 7));
    assert.deepEqual(await readLedger(file), { records, torn: RECORD_BYTES / 2, bytes: 5 * RECORD_BYTES });
    assert.equal(statSync(file).size, 5.5 * RECORD_BYTES, 'a reader leaves the file as it is');
    assert.deepEqual(await readLedger(file, { cutTorn: true }), { records, torn: RECORD_BYTES / 2, bytes: 5 * RECORD_BYTES });
    assert.equal(statSync(file).size, 5 * RECORD_BYTES, 'cut off on disk by the writer');
    const data = readFileSync(file);
    const at = 2 * RECORD_BYTES + 30;
    data.writeUInt8(data.readUInt8(at) ^ 0xff, at);
    writeFileSync(file, data);
    await assert.rejects(readLedger(file), CorruptLedgerError);
    assert.deepEqual(await readLedger(join(file, '..', 'none')), { records: [], torn: 0, bytes: 0 });
  });

  it(`fuzz: any damage to a ledger, a verdict file or a blocklist is a clear error, never another exception or a changed record (seed ${SEED})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-identity-fuzz-'));
    const file = join(dir, 'ledger');
    const w = await LedgerWriter.open(file);
    const written = Array.from({ length: 8 }, (_, i) => ({ id: String(7000 + i), fingerprint: BigInt(i) << 40n, size: 10 + i, pdq: random32(), quality: 80 }));
    for (const r of written) await w.append(r);
    await w.close();
    const good = readFileSync(file);
    const store = join(dir, 'store');
    for (let round = 0; round < 500; round++) {
      const bad = Buffer.from(good.subarray(0, Math.floor(random() * (good.length + 1))));
      for (let k = Math.floor(random() * 4); k > 0 && bad.length > 0; k--) bad.writeUInt8(Math.floor(random() * 256), Math.floor(random() * bad.length));
      writeFileSync(file, bad);
      try {
        // What is read back is what was written, record for record: damage is cut or refused, never read as another record.
        const { records } = await readLedger(file);
        assert.deepEqual(records, written.slice(0, records.length), `seed ${SEED}, round ${round}`);
      } catch (err) {
        assert.ok(err instanceof CorruptLedgerError, `seed ${SEED}, round ${round}: ${String(err)}`);
      }
      const junk = randomJunk();
      mkdirSync(join(storeFile(store, verdictPath('4200')), '..'), { recursive: true });
      writeFileSync(storeFile(store, verdictPath('4200')), junk);
      await assert.rejects(readVerdict(openStore(store), '4200'), BadVerdictError);
      try {
        parseBlocklist(junk.toString('utf8'), 'fuzz.txt');
      } catch (err) {
        assert.ok(err instanceof ValidationError, String(err));
      }
    }
  });

  it('blocklist: every bad line named at once; a bad new version leaves the list in force', async () => {
    const good = random32().toString('hex');
    assert.throws(
      () => parseBlocklist(`# list\n${good}\nxyz\n\n${good.slice(1)}\n`, 'list.txt'),
      (err: Error) => /line 3: .*"xyz"/.test(err.message) && /line 5:/.test(err.message),
    );
    assert.deepEqual(
      parseBlocklist(`${good.toUpperCase()}  # a comment\n`, 'l').map((b) => b.toString('hex')),
      [good],
    );
    const file = join(mkdtempSync(join(tmpdir(), 'hearth-blocklist-')), 'list.txt');
    writeFileSync(file, `${good}\n`);
    const failures: Error[] = [];
    const list = new Blocklist(file, (e) => failures.push(e));
    await list.load();
    assert.equal(list.match(Buffer.from(good, 'hex'), 31)?.distance, 0);
    writeFileSync(file, `${good}\nnot a hash, and longer than before\n`);
    await list.refresh(Date.now() + 5000);
    assert.equal(failures.length, 1);
    assert.equal(list.size, 1, 'the old list stays');
    const other = random32();
    writeFileSync(file, `${other.toString('hex')}\n`);
    await list.refresh(Date.now() + 10_000);
    assert.equal(list.match(Buffer.from(good, 'hex'), 31), undefined);
    assert.equal(list.match(other, 0)?.listed, other.toString('hex'));
  });

  it('the growing Hamming index finds what a scan finds, before and after it re-indexes', () => {
    const index = new GrowingHammingIndex();
    const all: Buffer[] = [];
    for (let i = 0; i < 9000; i++) {
      const base = i % 3 === 0 || all.length === 0 ? random32() : Buffer.from(all[Math.floor(random() * all.length)] as Buffer);
      // Near copies of earlier hashes: a few bits flipped.
      for (let f = 0; f < i % 40; f++) (base[Math.floor(random() * 32)] as number) ^= 1 << Math.floor(random() * 8);
      all.push(base);
      assert.equal(index.add(base), i);
      if (i % 1500 === 0 || i === 8999) {
        const q = all[Math.floor(random() * all.length)] as Buffer;
        const scan = all
          .map((h, at) => ({ index: at, distance: hamming(q, h) }))
          .filter((m) => m.distance <= 31)
          .sort((a, b) => a.distance - b.distance || a.index - b.index);
        assert.deepEqual(index.search(q, 31), scan);
      }
    }
  });
});

describe('identity tier through a real Kafka broker', function () {
  this.timeout(180_000);
  let brokers: string[];
  let kafka: Kafka;
  let producer: Producer;
  let watcher: Consumer;
  const seen: { topic: string; value: Record<string, unknown> }[] = [];
  // The photographs setup fetches.
  const photo = (name: string) => fileURLToPath(new URL(`../../../.cache/photos/src/${name}`, import.meta.url));

  /** A store, and `put` placing bytes as the original of a new id. */
  function store(): { root: string; put: (data: Buffer) => string } {
    const root = mkdtempSync(join(tmpdir(), 'hearth-identity-store-'));
    return {
      root,
      put: (data) => {
        const id = String(nextId++);
        const file = storeFile(root, originalPath(id));
        mkdirSync(join(file, '..'), { recursive: true });
        writeFileSync(file, data);
        return id;
      },
    };
  }
  const upload = (id: string, source = originalPath(id)) => ({ key: id, value: JSON.stringify({ id, source }) });
  const statusPort = new Map<IdentityWorker, number>();
  async function worker(root: string, extra: Record<string, unknown> = {}): Promise<IdentityWorker> {
    const base = loadIdentityConfig(undefined, { store: root });
    const config = loadIdentityConfig(undefined, {
      store: root,
      kafka: { ...base.kafka, brokers, groupId: `g-identity-${Date.now()}-${nextId}`, partitions: 4 },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      ...extra,
    });
    const w = new IdentityWorker(config, { logger: createLogger('identity-test', 'silent') });
    statusPort.set(w, (await w.start()).port);
    return w;
  }
  const of = (id: string, topic?: string) => seen.filter((e) => e.value.id === id && (topic === undefined || e.topic === topic));
  const count = async (w: IdentityWorker, verdict: string) => (await w.metrics.uploads.get()).values.find((v) => v.labels.verdict === verdict)?.value ?? 0;

  before(async () => {
    brokers = [(await testKafka()).address];
    kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, {
      [TOPICS.uploaded]: 4,
      [TOPICS.accepted]: 4,
      [TOPICS.matched]: 4,
      [TOPICS.quarantined]: 1,
      [TOPICS.dead]: 1,
      [TOPICS.takedown]: 4,
    });
    await admin.disconnect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    watcher = await watchTopics(kafka, [TOPICS.accepted, TOPICS.matched, TOPICS.quarantined, TOPICS.dead, TOPICS.takedown], (topic, value) =>
      seen.push({ topic, value }),
    );
  });
  after(async () => {
    await watcher?.disconnect();
    await producer?.disconnect();
  });

  it('accepts new photographs, links a byte-identical one, and records a resized copy as a near-duplicate', async () => {
    const s = store();
    const original = readFileSync(photo('Kite.jpg'));
    const a = s.put(original);
    const other = s.put(readFileSync(photo('Storm.jpg')));
    const w = await worker(s.root);
    try {
      await producer.send({ topic: TOPICS.uploaded, messages: [upload(a), upload(other)] });
      await until('both accepted', () => (of(a, TOPICS.accepted).length && of(other, TOPICS.accepted).length) || undefined, 60_000);
      const same = s.put(original);
      const smaller = s.put(await sharp(original).resize(1024).jpeg({ quality: 70 }).toBuffer());
      await producer.send({ topic: TOPICS.uploaded, messages: [upload(same), upload(smaller)] });
      const dup = await until('the duplicate', () => of(same, TOPICS.matched)[0], 60_000);
      assert.deepEqual([dup.value.kind, dup.value.of, dup.value.distance], ['duplicate', a, 0]);
      assert.equal(dup.value.bytesSaved, original.length, 'the original (no sizes stored in this store)');
      assert.equal(statSync(storeFile(s.root, originalPath(same))).ino, statSync(storeFile(s.root, originalPath(a))).ino);
      assert.equal((await readVerdict(openStore(s.root), same))?.verdict, 'duplicate');
      const near = await until('the near-duplicate', () => of(smaller, TOPICS.matched)[0], 60_000);
      assert.equal(near.value.kind, 'near_duplicate');
      assert.equal(near.value.of, a);
      assert.ok((near.value.distance as number) <= 31 && (near.value.distance as number) > 0, `distance ${String(near.value.distance)}`);
      await until('the near-duplicate accepted', () => of(smaller, TOPICS.accepted)[0], 10_000);
      assert.equal(of(same, TOPICS.accepted).length, 0, 'a duplicate is not passed on to resizing');
      assert.equal(of(other, TOPICS.matched).length, 0, 'a different photograph matches nothing');
      assert.deepEqual([await count(w, 'accepted'), await count(w, 'duplicate')], [3, 1]);
      assert.equal((await w.metrics.bytesSaved.get()).values[0]?.value, original.length);
      // A redelivery of the accepted upload: accepted again, not a duplicate of itself, no new ledger record.
      await producer.send({ topic: TOPICS.uploaded, messages: [upload(a)] });
      await until('accepted again', () => of(a, TOPICS.accepted).length >= 2 || undefined, 30_000);
      assert.equal((await readLedger(ledgerFile(s.root))).records.length, 3);
    } finally {
      await w.stop();
    }
    // A damaged ledger is rebuilt from the store at start: the photograph is still known.
    const data = readFileSync(ledgerFile(s.root));
    data.writeUInt8(data.readUInt8(10) ^ 0xff, 10);
    writeFileSync(ledgerFile(s.root), data);
    const again = await worker(s.root);
    try {
      assert.equal((await readLedger(ledgerFile(s.root))).records.length, 3, 'rebuilt: every original without a verdict');
      const third = s.put(original);
      await producer.send({ topic: TOPICS.uploaded, messages: [upload(third)] });
      const dup = await until('a duplicate after the rebuild', () => of(third, TOPICS.matched)[0], 60_000);
      assert.deepEqual([dup.value.kind, dup.value.of], ['duplicate', a]);
    } finally {
      await again.stop();
    }
  });

  it('sends what can never pass to the dead-letter topic, and the partition moves on', async () => {
    const s = store();
    const good = readFileSync(photo('Kite.jpg'));
    const png = s.put(await sharp(good).png().toBuffer());
    const truncated = s.put(good.subarray(0, Math.floor(good.length / 2)));
    // A header that claims 60,000 × 60,000 pixels (3.6 gigapixels): refused before any decode.
    // (A JPEG sharp wrote: no EXIF thumbnail whose own SOF could come first.)
    const huge = await sharp(good).resize(64).jpeg().toBuffer();
    const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
    huge.writeUInt16BE(60_000, sof + 5);
    huge.writeUInt16BE(60_000, sof + 7);
    const tooBig = s.put(huge);
    const tiny = s.put(
      await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
        .jpeg()
        .toBuffer(),
    );
    const fine = s.put(good);
    // A phone's HEIC cut short, and one holding two photos (a burst): no single whole photo.
    const heic = await heicOf(good);
    const cutHeic = s.put(heic.subarray(0, Math.floor(heic.length * 0.6)));
    const burst = s.put(await heicOf(good, await sharp(good).flop().jpeg().toBuffer()));
    // Hostile sources: a FIFO (whose open would block a thread for good), a 10 GiB sparse file (over readFile's limit).
    const fifo = s.put(Buffer.alloc(0));
    rmSync(storeFile(s.root, originalPath(fifo)));
    execFileSync('mkfifo', [storeFile(s.root, originalPath(fifo))]);
    const sparse = s.put(Buffer.alloc(0));
    truncateSync(storeFile(s.root, originalPath(sparse)), 10 * 2 ** 30);
    const w = await worker(s.root);
    try {
      // One key, so one partition: the good upload waits behind every bad one.
      const key = fine;
      await producer.send({
        topic: TOPICS.uploaded,
        messages: [
          { key, value: 'not json' },
          { key, value: JSON.stringify({ id: fine, source: '/../../etc/passwd' }) },
          { key, value: JSON.stringify({ id: png, source: originalPath(png) }) },
          { key, value: JSON.stringify({ id: truncated, source: originalPath(truncated) }) },
          { key, value: JSON.stringify({ id: tooBig, source: originalPath(tooBig) }) },
          { key, value: JSON.stringify({ id: cutHeic, source: originalPath(cutHeic) }) },
          { key, value: JSON.stringify({ id: burst, source: originalPath(burst) }) },
          { key, value: JSON.stringify({ id: '42', source: '/originals/0/42.jpg' }) },
          { key, value: JSON.stringify({ id: fifo, source: originalPath(fifo) }) },
          { key, value: JSON.stringify({ id: sparse, source: originalPath(sparse) }) },
          // Leading zeros: the ledger keeps ids as numbers, so `0042` would come back as `42`.
          { key, value: JSON.stringify({ id: `00${tiny}`, source: originalPath(`00${tiny}`) }) },
          // A never-uploaded id pointing at another image's original.
          { key, value: JSON.stringify({ id: String(nextId++), source: originalPath(fine) }) },
          { key, value: JSON.stringify({ id: tiny, source: originalPath(tiny) }) },
          { key, value: JSON.stringify({ id: fine, source: originalPath(fine) }) },
        ],
      });
      await until('the good upload accepted', () => of(fine, TOPICS.accepted)[0], 60_000);
      const dead = seen.filter((e) => e.topic === TOPICS.dead && e.value.key === key);
      assert.deepEqual(dead.map((e) => e.value.reason).sort(), [
        'corrupt_source',
        'corrupt_source',
        'corrupt_source',
        'corrupt_source',
        'corrupt_source',
        'invalid_message',
        'invalid_message',
        'invalid_message',
        'invalid_message',
        'irregular_source',
        'missing_source',
        'oversized_source',
      ]);
      for (const path of ['/healthz', '/readyz']) assert.equal((await fetch(`http://127.0.0.1:${statusPort.get(w)}${path}`)).status, 200, path);
      const errors = dead.map((e) => String(e.value.error));
      assert.ok(
        errors.some((e) => /neither a JPEG nor a HEIF \(its content is png\)/.test(e)),
        errors.join('\n'),
      );
      assert.ok(
        errors.some((e) => /a decompression bomb: it declares more than 100000000 pixels/.test(e)),
        errors.join('\n'),
      );
      assert.ok(
        errors.some((e) => /a HEIF of 2 images: upload one photo/.test(e)) && errors.some((e) => /damaged HEIF|HEIF libheif cannot decode/.test(e)),
        errors.join('\n'),
      );
      // A tiny flat image: accepted (exact matching still holds), never matched perceptually.
      assert.ok(of(tiny, TOPICS.accepted)[0]);
      assert.equal((await w.metrics.lowQuality.get()).values[0]?.value, 1);
      // Counted by reason (the shared topic also holds other tests' uploads, from stores this worker lacks).
      const failures = new Map((await w.metrics.failures.get()).values.map((v) => [v.labels.reason, v.value]));
      assert.equal(failures.get('corrupt_source'), 5);
      assert.ok((failures.get('invalid_message') ?? 0) >= 2 && (failures.get('missing_source') ?? 0) >= 1);
    } finally {
      await w.stop();
    }
  });

  it('quarantines a blocklisted photograph: verdict, original moved out of the served paths, event; a second worker on the store is refused', async () => {
    const s = store();
    const data = readFileSync(photo('Storm.jpg'));
    const list = join(s.root, '..', `blocklist-${nextId}.txt`);
    writeFileSync(list, `${(await pdqOf(data)).hex}\n`);
    const id = s.put(await sharp(data).jpeg({ quality: 50 }).toBuffer());
    const w = await worker(s.root, { blocklist: list });
    try {
      await assert.rejects(worker(s.root, { blocklist: list }), /already running/);
      await producer.send({ topic: TOPICS.uploaded, messages: [upload(id)] });
      const q = await until('quarantined', () => of(id, TOPICS.quarantined)[0], 60_000);
      assert.equal(q.value.source, `/quarantine/${id.slice(0, -2)}/${id}.jpg`);
      assert.equal(existsSync(storeFile(s.root, originalPath(id))), false);
      assert.ok(existsSync(storeFile(s.root, q.value.source)));
      assert.equal((await readVerdict(openStore(s.root), id))?.verdict, 'quarantined');
      // Redelivered: the same event again, though the original has moved.
      await producer.send({ topic: TOPICS.uploaded, messages: [upload(id)] });
      await until('quarantined again', () => of(id, TOPICS.quarantined).length >= 2 || undefined, 30_000);
      assert.equal(of(id, TOPICS.accepted).length + of(id, TOPICS.dead).length, 0);
    } finally {
      await w.stop();
    }
    writeFileSync(list, 'zz\n');
    await assert.rejects(worker(s.root, { blocklist: list }), /line 1: not a PDQ hash/);
  });

  it('applies the blocklist backwards: a hash added quarantines the photos already accepted (taken down, purge asked), removed lifts it (served again)', async () => {
    const s = store();
    const data = readFileSync(photo('Kite.jpg'));
    const list = join(s.root, '..', `blocklist-${nextId}.txt`);
    writeFileSync(list, '');
    const id = s.put(data);
    const kept = s.put(readFileSync(photo('Storm.jpg')));
    const w = await worker(s.root, { blocklist: list });
    const backwards = async (action: string) => (await w.metrics.backwards.get()).values.find((v) => v.labels.action === action)?.value ?? 0;
    try {
      await producer.send({ topic: TOPICS.uploaded, messages: [upload(id), upload(kept)] });
      await until('both accepted', () => (of(id, TOPICS.accepted).length && of(kept, TOPICS.accepted).length) || undefined, 60_000);
      // A size the resize tier would have stored.
      mkdirSync(join(storeFile(s.root, imagePath(id, 'z')), '..'), { recursive: true });
      writeFileSync(storeFile(s.root, imagePath(id, 'z')), data);
      writeFileSync(list, `# added after the upload was accepted\n${(await pdqOf(await sharp(data).resize(800).jpeg({ quality: 60 }).toBuffer())).hex}\n`);
      const t = await until('a takedown for it', () => of(id, TOPICS.takedown)[0], 30_000);
      assert.deepEqual([t.value.action, t.value.by], ['quarantine', 'blocklist']);
      assert.equal(of(id, TOPICS.quarantined)[0]?.value.source, quarantinePath(id));
      const v = await readVerdict(openStore(s.root), id);
      assert.equal(v?.verdict, 'quarantined');
      assert.equal(existsSync(storeFile(s.root, originalPath(id))), false, 'out of the served paths');
      assert.equal(existsSync(storeFile(s.root, imagePath(id, 'z'))), false, 'its sizes removed');
      assert.ok(existsSync(storeFile(s.root, quarantinePath(id))), 'kept for review');
      assert.equal(await readVerdict(openStore(s.root), kept), undefined, 'another photo untouched');
      assert.equal(await backwards('quarantined'), 1);

      writeFileSync(list, '# lifted\n');
      await until('lifted', async () => ((await backwards('lifted')) === 1 ? true : undefined), 30_000);
      assert.equal(await readVerdict(openStore(s.root), id), undefined);
      assert.deepEqual(readFileSync(storeFile(s.root, originalPath(id))), data, 'the original back, byte-exact');
      assert.equal(existsSync(storeFile(s.root, quarantinePath(id))), false);
    } finally {
      await w.stop();
    }
  });
});
