/**
 * Exact identity on real photographs: the TOOSIMPLE fingerprint, the compact index
 * (round trip, and every kind of damage refused), and lookups that are confirmed byte
 * for byte, so a fingerprint collision never makes a false duplicate.
 */
import assert from 'node:assert/strict';
import { xxh64 } from '@node-rs/xxhash';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { CorruptIndexError, ExactIndex } from '../../identity/exact-index.js';
import { SEGMENT_BYTES, fingerprintOf, fingerprintStored, segmentOffsets } from '../../identity/fingerprint.js';
import { identify, indexFile, indexStore, loadOrBuild } from '../../identity/store-index.js';
import { originalPath } from '../../image/store.js';
import { DirStore, storeFile, VolumeEngine } from '../../store/index.js';
import { FIXTURES } from '../helpers/test-stack.js';

const run = promisify(execFile);
const photos = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.jpg'))
  .map((f) => join(FIXTURES, f));

function storeOf(files: string[], firstId = 700000): { store: string; ids: string[] } {
  const store = mkdtempSync(join(tmpdir(), 'hearth-identity-'));
  const ids = files.map((f, i) => {
    const id = String(firstId + i);
    const dest = storeFile(store, originalPath(id));
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, readFileSync(f));
    return id;
  });
  return { store, ids };
}

describe('exact identity (fingerprints and the index)', () => {
  it('takes two 100-byte segments inside the file, whatever its size', () => {
    for (const size of [0, 1, 150, 200, 201, 299, 1000, 48_463, 5_000_000]) {
      const [a, b] = segmentOffsets(size);
      assert.ok(a >= 0 && b >= a, `${size}`);
      if (size > 2 * SEGMENT_BYTES) assert.ok(a + SEGMENT_BYTES <= b && b + SEGMENT_BYTES <= size, `${size}: ${a}, ${b}`);
    }
  });

  it('reads the same fingerprint from a stored object (two ranged reads, either driver) as from its bytes; one changed byte in a segment, or one more byte, changes it', async () => {
    const data = readFileSync(photos[0]!);
    const root = mkdtempSync(join(tmpdir(), 'hearth-fp-'));
    const volumes = await VolumeEngine.open({ dir: join(root, 'volumes'), minFreeBytes: 0 });
    try {
      for (const store of [new DirStore(join(root, 'dir')), volumes]) {
        for (const bytes of [data, data.subarray(0, 150), data.subarray(0, 60), data.subarray(0, 201)]) {
          await store.put('/originals/1/100.jpg', bytes);
          assert.equal(await fingerprintStored(store, '/originals/1/100.jpg', bytes.length), fingerprintOf(bytes), `${store.driver}, ${bytes.length} bytes`);
        }
      }
    } finally {
      await volumes.close();
    }
    const fingerprint = fingerprintOf(data);
    const [a] = segmentOffsets(data.length);
    const flipped = Buffer.from(data);
    flipped[a + 7] = (flipped[a + 7] as number) ^ 1;
    assert.notEqual(fingerprintOf(flipped), fingerprint);
    assert.notEqual(fingerprintOf(Buffer.concat([data, Buffer.from([0])])), fingerprint);
  });

  it('different photographs, and recompressions of one, all fingerprint apart', async () => {
    const fps = new Set<bigint>();
    for (const p of photos) {
      fps.add(fingerprintOf(readFileSync(p)));
      for (const q of [70, 85]) fps.add(fingerprintOf(await sharp(p).jpeg({ quality: q }).toBuffer()));
    }
    assert.equal(fps.size, photos.length * 3);
  });

  it('writes a compact index and reads it back, several ids per fingerprint kept', () => {
    const entries = Array.from({ length: 1000 }, (_, i) => ({ fingerprint: BigInt(i * 7919) ** 3n % 2n ** 64n, id: String(100000 + i) }));
    entries.push({ fingerprint: entries[5]!.fingerprint, id: 'same-bytes' });
    const buf = ExactIndex.build(entries).toBuffer();
    assert.equal(buf.length, 16 + 1001 * 16 + 1000 * 6 + 'same-bytes'.length + 8);
    const back = ExactIndex.fromBuffer(buf);
    assert.equal(back.size, 1001);
    assert.deepEqual(back.lookup(entries[5]!.fingerprint).sort(), ['100005', 'same-bytes']);
    assert.deepEqual(back.lookup(entries[999]!.fingerprint), ['100999']);
    assert.deepEqual(back.lookup(123n), []);
  });

  it('refuses an index that is torn, bit-flipped, foreign or lying about its sizes', () => {
    const good = ExactIndex.build([
      { fingerprint: 5n, id: '1' },
      { fingerprint: 9n, id: '2' },
    ]).toBuffer();
    const flip = Buffer.from(good);
    flip[30] = (flip[30] as number) ^ 4;
    // Sizes that do not add up, and fingerprints out of order, under a checksum that matches.
    const resealed = (edit: (body: Buffer) => void): Buffer => {
      const body = Buffer.from(good.subarray(0, good.length - 8));
      edit(body);
      const sum = Buffer.alloc(8);
      sum.writeBigUInt64LE(xxh64(body));
      return Buffer.concat([body, sum]);
    };
    const lying = resealed((b) => b.writeUInt32LE(3, 8));
    const unordered = resealed((b) => b.writeBigUInt64LE(99n, 16));
    for (const [bad, why] of [
      [good.subarray(0, good.length - 1), /checksum mismatch/],
      [flip, /checksum mismatch/],
      [Buffer.from('not an index at all, just some text that is long enough to pass the length check'), /no Hearth index header/],
      [Buffer.alloc(0), /no Hearth index header/],
      [lying, /sizes do not add up/],
      [unordered, /fingerprints out of order/],
    ] as const) {
      assert.throws(
        () => ExactIndex.fromBuffer(bad, 'x.idx'),
        (e: unknown) => e instanceof CorruptIndexError && why.test(e.message),
      );
    }
    // Fuzz: any bytes at all are an index or a CorruptIndexError, never another exception.
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(good);
      junk[Math.floor(Math.random() * junk.length)] = Math.floor(Math.random() * 256);
      const cut = junk.subarray(0, Math.floor(Math.random() * junk.length) + 1);
      try {
        ExactIndex.fromBuffer(Math.random() < 0.5 ? cut : junk);
      } catch (e) {
        assert.ok(e instanceof CorruptIndexError, String(e));
      }
    }
  });

  it('indexes a store of real originals; a lookup finds each by its bytes, and nothing for a recompression', async () => {
    const { store, ids } = storeOf(photos);
    const s = new DirStore(store);
    const { stats } = await indexStore(s, indexFile(store));
    assert.equal(stats.files, photos.length);
    const { index, rebuilt } = await loadOrBuild(s, indexFile(store));
    assert.equal(rebuilt, undefined);
    for (const [i, p] of photos.entries()) assert.deepEqual(await identify(s, index, p), { file: p, id: ids[i], collisions: [] });
    const copy = join(store, 'recompressed.jpg');
    writeFileSync(copy, await sharp(photos[0]).jpeg({ quality: 80 }).toBuffer());
    assert.deepEqual(await identify(s, index, copy), { file: copy, id: null, collisions: [] });
  });

  it('never declares a duplicate on a fingerprint alone: a colliding entry is reported as a collision', async () => {
    const { store, ids } = storeOf(photos.slice(0, 2));
    // An index whose entry for photo 0's fingerprint names photo 1: a collision, as rare as it is possible.
    const index = ExactIndex.build([{ fingerprint: fingerprintOf(readFileSync(photos[0]!)), id: ids[1]! }]);
    assert.deepEqual(await identify(new DirStore(store), index, photos[0]!), { file: photos[0], id: null, collisions: [ids[1]] });
  });

  it('hearth identity lookup rebuilds a corrupt index, says so, and answers', async () => {
    const { store, ids } = storeOf(photos.slice(0, 2), 710000);
    writeFileSync(indexFile(store), 'garbage');
    const { stdout, stderr } = await run(process.execPath, [HEARTH_CLI, 'identity', 'lookup', '--store', store, photos[1]!]);
    assert.match(stderr, /index rebuilt \(.*no Hearth index header/);
    assert.equal((JSON.parse(stdout) as { id: string }).id, ids[1]);
    assert.equal(ExactIndex.fromBuffer(readFileSync(indexFile(store))).size, 2);
  });
});
