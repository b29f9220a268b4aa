/** hearth upload: originals into the store, checked and never replaced, announced on the real broker. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import sharp from 'sharp';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { storeFile } from '../../store/index.js';
import { TOPICS, ensureTopics } from '../../kafka/client.js';
import { uploadedValidator, type Uploaded } from '../../kafka/messages.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { testKafka, watchTopics } from '../helpers/test-kafka.js';
import { until } from '../helpers/until.js';
import { storeOriginal } from '../../upload/upload.js';
import { encodeRecord } from '../../identity/ledger.js';

const run = promisify(execFile);

describe('hearth upload through a real Kafka broker', function () {
  this.timeout(60000);
  let store: string;
  let brokers: string;
  let watcher: Consumer;
  const events: Uploaded[] = [];
  const upload = (...args: string[]) =>
    run(process.execPath, [HEARTH_CLI, 'upload', '--store', store, '--brokers', brokers, ...args]).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  const lines = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; source: string; bytes: number; width: number; created: boolean; partition: number });

  before(async () => {
    store = mkdtempSync(join(tmpdir(), 'hearth-upload-'));
    brokers = (await testKafka()).address;
    const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, { [TOPICS.uploaded]: 4 });
    await admin.disconnect();
    watcher = await watchTopics(kafka, [TOPICS.uploaded], (_t, v) => {
      if (uploadedValidator.is(v) && v.source.startsWith('/originals/')) events.push(v);
    });
  });
  after(async () => {
    await watcher?.disconnect();
  });

  it('stores each photo byte for byte under a new id, and announces it with a schema-valid event', async () => {
    const files = ['aqua.jpg', 'garden.jpg'].map((f) => join(FIXTURES, f));
    const r = await upload(...files);
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out.length, 2);
    out.forEach((o, i) => {
      assert.match(o.id, /^[0-9]{16}$/);
      assert.equal(o.created, true);
      assert.ok(readFileSync(storeFile(store, o.source)).equals(readFileSync(files[i]!)), `${o.source} is not the upload`);
      assert.equal(o.source, `/originals/${o.id.slice(0, -2)}/${o.id}.jpg`);
    });
    await until('both announced', () => (out.every((o) => events.some((e) => e.id === o.id && e.source === o.source)) ? true : undefined), 20000);
  });

  it('an id given again with the same bytes is announced again; with other bytes it is refused, the original kept', async () => {
    const aqua = join(FIXTURES, 'aqua.jpg');
    const first = await upload('--id', '7700001', aqua);
    assert.equal(first.code, 0, first.stderr);
    const again = await upload('--id', '7700001', aqua);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(lines(again.stdout)[0]?.created, false);
    const other = await upload('--id', '7700001', join(FIXTURES, 'garden.jpg'));
    assert.equal(other.code, 2);
    assert.match(other.stderr, /already holds another original.*never replaced/);
    assert.ok(readFileSync(storeFile(store, '/originals/77000/7700001.jpg')).equals(readFileSync(aqua)));
    await until('announced twice', () => (events.filter((e) => e.id === '7700001').length >= 2 ? true : undefined), 20000);
  });

  it('refuses an id with a leading zero (the ledger would read it back as another id), storing nothing', async () => {
    const r = await upload('--id', '0000042', join(FIXTURES, 'aqua.jpg'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no leading zero/);
    assert.ok(!existsSync(storeFile(store, '/originals/00000/0000042.jpg')));
    await assert.rejects(
      storeOriginal(store, readFileSync(join(FIXTURES, 'aqua.jpg')), { width: 1, height: 1, format: 'jpeg', gainMap: false }, 'aqua.jpg', '0042'),
      /not an image id/,
    );
    assert.equal(uploadedValidator.is({ id: '0042', source: '/originals/00/0042.jpg' }), false);
    assert.throws(() => encodeRecord({ id: '0042', fingerprint: 1n, size: 1, pdq: Buffer.alloc(32), quality: 100 }), /would not read back as itself/);
  });

  it('refuses what is not a whole JPEG or HEIF, by content, storing and announcing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-upload-bad-'));
    const photo = readFileSync(join(FIXTURES, 'ladybird.jpg'));
    writeFileSync(join(dir, 'png.jpg'), await sharp(photo).png().toBuffer());
    writeFileSync(join(dir, 'truncated.jpg'), photo.subarray(0, Math.floor(photo.length / 2)));
    writeFileSync(join(dir, 'notes.jpg'), 'not an image at all');
    const before = events.length;
    const stored = () => (existsSync(join(store, 'originals')) ? readdirSync(join(store, 'originals'), { recursive: true }).length : 0);
    const storedBefore = stored();
    for (const [f, why] of [
      ['png.jpg', /neither a JPEG nor a HEIF \(its content is png\)/],
      ['truncated.jpg', /damaged JPEG/],
      ['notes.jpg', /not an image/],
    ] as const) {
      const r = await upload('--id', '7711001', join(dir, f));
      assert.equal(r.code, 2, f);
      assert.match(r.stderr, why);
    }
    // A good file before a bad one in the same list: the bad one stops the run before anything is stored.
    const mixed = await upload(join(FIXTURES, 'aqua.jpg'), join(dir, 'notes.jpg'));
    assert.equal(mixed.code, 2);
    assert.equal(stored(), storedBefore, 'nothing stored');
    assert.equal((await upload('--id', '1', join(FIXTURES, 'aqua.jpg'), join(FIXTURES, 'garden.jpg'))).code, 1, '--id with two files');
    // Nothing new was announced: a marker upload arrives, and nothing before it.
    const marker = lines((await upload('--id', '7722001', join(FIXTURES, 'garden.jpg'))).stdout)[0]!;
    await until('the marker', () => (events.some((e) => e.id === marker.id) ? true : undefined), 20000);
    assert.deepEqual(
      events.slice(before).map((e) => e.id),
      [marker.id],
    );
  });
});
