/**
 * Exact identity on real photographs: the TOOSIMPLE fingerprint, the compact index of the
 * identity ledger (round trip, every kind of damage refused, current with what the ledger
 * gained since, rebuilt when the ledger was), and lookups that are confirmed byte for
 * byte, so a fingerprint collision never makes a false duplicate.
 */
import assert from 'node:assert/strict';
import { xxh64 } from '@node-rs/xxhash';
import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { CorruptIndexError, ExactIndex } from '../../identity/exact-index.js';
import { SEGMENT_BYTES, fingerprintOf, segmentOffsets } from '../../identity/fingerprint.js';
import { identify, indexFile, indexLedger, loadLookup } from '../../identity/ledger-index.js';
import { LedgerWriter, encodeRecord, ledgerFile } from '../../identity/ledger.js';
import { seededRandom } from '../../common/random.js';
import { originalPath } from '../../image/store.js';
import { DirStore, storeFile } from '../../store/index.js';
import { FIXTURES } from '../helpers/test-stack.js';

const run = promisify(execFile);
const photos = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.jpg'))
  .map((f) => join(FIXTURES, f));

const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** What the identity worker appends for each accepted image (the PDQ hash does not matter to exact lookups). */
async function appendToLedger(ledger: string, files: string[], ids: string[]): Promise<void> {
  const w = await LedgerWriter.open(ledger);
  for (const [i, f] of files.entries()) {
    const data = readFileSync(f);
    await w.append({ id: ids[i]!, fingerprint: fingerprintOf(data), size: data.length, pdq: Buffer.alloc(32, i), quality: 90 });
  }
  await w.close();
}

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
    assert.equal(buf.length, 88 + 1001 * 16 + 1000 * 6 + 'same-bytes'.length + 8);
    const back = ExactIndex.fromBuffer(buf);
    assert.equal(back.size, 1001);
    assert.deepEqual(back.lookup(entries[5]!.fingerprint).sort(), ['100005', 'same-bytes']);
    assert.deepEqual(back.lookup(entries[999]!.fingerprint), ['100999']);
    assert.deepEqual(back.lookup(123n), []);
  });

  it(`refuses an index that is torn, bit-flipped, foreign or lying about its sizes (seed ${SEED})`, () => {
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
    const unordered = resealed((b) => b.writeBigUInt64LE(99n, 88));
    const partRecord = resealed((b) => b.writeBigUInt64LE(65n, 16));
    for (const [bad, why] of [
      [good.subarray(0, good.length - 1), /checksum mismatch/],
      [flip, /checksum mismatch/],
      [Buffer.from('not an index at all, just some text that is long enough to pass the length check'), /no Hearth index header/],
      [Buffer.alloc(0), /no Hearth index header/],
      [lying, /sizes do not add up/],
      [unordered, /fingerprints out of order/],
      [partRecord, /covers part of a ledger record/],
    ] as const) {
      assert.throws(
        () => ExactIndex.fromBuffer(bad, 'x.idx'),
        (e: unknown) => e instanceof CorruptIndexError && why.test(e.message),
      );
    }
    // Fuzz: any bytes at all are an index or a CorruptIndexError, never another exception.
    const random = seededRandom(SEED);
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(good);
      junk[Math.floor(random() * junk.length)] = Math.floor(random() * 256);
      const cut = junk.subarray(0, Math.floor(random() * junk.length) + 1);
      try {
        ExactIndex.fromBuffer(random() < 0.5 ? cut : junk);
      } catch (e) {
        assert.ok(e instanceof CorruptIndexError, `seed ${SEED}, round ${i}: ${String(e)}`);
      }
    }
  });

  it('indexes the identity ledger; a lookup finds each original by its bytes, nothing for a recompression, and what the ledger gained since the index', async () => {
    const { store, ids } = storeOf(photos);
    const s = new DirStore(store);
    const ledger = ledgerFile(store);
    await appendToLedger(ledger, photos.slice(0, -1), ids.slice(0, -1));
    const { stats } = await indexLedger(ledger);
    assert.equal(stats.images, photos.length - 1);
    // Accepted after the index was written: read from the ledger's tail, the index left as it is.
    await appendToLedger(ledger, photos.slice(-1), ids.slice(-1));
    const written = readFileSync(indexFile(ledger));
    const images = await loadLookup(ledger);
    assert.equal(images.rebuilt, undefined);
    assert.equal(images.size, photos.length);
    assert.ok(readFileSync(indexFile(ledger)).equals(written));
    for (const [i, p] of photos.entries()) assert.deepEqual(await identify(s, images, p), { file: p, id: ids[i], collisions: [] });
    const copy = join(store, 'recompressed.jpg');
    writeFileSync(copy, await sharp(photos[0]).jpeg({ quality: 80 }).toBuffer());
    assert.deepEqual(await identify(s, images, copy), { file: copy, id: null, collisions: [] });
  });

  it('rebuilds the index when the ledger it was made from was rebuilt since (the worker rewrites a damaged one)', async () => {
    const { store, ids } = storeOf(photos.slice(0, 3), 705000);
    const ledger = ledgerFile(store);
    await appendToLedger(ledger, photos.slice(0, 2), ids.slice(0, 2));
    await indexLedger(ledger);
    // The same length, other records: what a rebuild in another order writes.
    writeFileSync(ledger, '');
    await appendToLedger(ledger, [photos[2]!, photos[0]!], [ids[2]!, ids[0]!]);
    const images = await loadLookup(ledger);
    assert.match(images.rebuilt ?? '', /the ledger was rebuilt or shortened since/);
    assert.deepEqual(await identify(new DirStore(store), images, photos[2]!), { file: photos[2], id: ids[2], collisions: [] });
    assert.deepEqual(await identify(new DirStore(store), images, photos[1]!), { file: photos[1], id: null, collisions: [] });
  });

  it('writes the index again once the ledger has run far ahead of it, so a lookup never reads a long tail', async () => {
    const { store, ids } = storeOf(photos.slice(0, 2), 707000);
    const ledger = ledgerFile(store);
    await appendToLedger(ledger, photos.slice(0, 2), ids);
    await indexLedger(ledger);
    const pdq = Buffer.alloc(32);
    const more = Array.from({ length: 10_001 }, (_, i) =>
      encodeRecord({ id: String(800000 + i), fingerprint: BigInt(i + 1) << 20n, size: 1000, pdq, quality: 90 }),
    );
    appendFileSync(ledger, Buffer.concat(more));
    const images = await loadLookup(ledger);
    assert.match(images.rebuilt ?? '', /10001 images accepted since it was written/);
    assert.equal(images.size, 10_003);
    assert.equal((await ExactIndex.read(indexFile(ledger))).size, 10_003);
    assert.deepEqual(images.lookup(5n << 20n), ['800004']);
    assert.equal((await loadLookup(ledger)).rebuilt, undefined);
  });

  it('never declares a duplicate on a fingerprint alone: a colliding entry is reported as a collision', async () => {
    const { store, ids } = storeOf(photos.slice(0, 2));
    // An index whose entry for photo 0's fingerprint names photo 1: a collision, as rare as it is possible.
    const index = ExactIndex.build([{ fingerprint: fingerprintOf(readFileSync(photos[0]!)), id: ids[1]! }]);
    assert.deepEqual(await identify(new DirStore(store), index, photos[0]!), { file: photos[0], id: null, collisions: [ids[1]] });
  });

  it('hearth identity index writes the index of the ledger; lookup rebuilds a corrupt one, says so, and answers', async () => {
    const { store, ids } = storeOf(photos.slice(0, 2), 710000);
    const ledger = ledgerFile(store);
    await appendToLedger(ledger, photos.slice(0, 2), ids);
    const indexed = await run(process.execPath, [HEARTH_CLI, 'identity', 'index', '--store', store]);
    assert.deepEqual({ ...(JSON.parse(indexed.stdout) as object), ms: 0 }, { ledger, index: indexFile(ledger), images: 2, ms: 0 });
    writeFileSync(indexFile(ledger), 'garbage');
    const { stdout, stderr } = await run(process.execPath, [HEARTH_CLI, 'identity', 'lookup', '--store', store, photos[1]!]);
    assert.match(stderr, /index rebuilt \(.*no Hearth index header/);
    assert.equal((JSON.parse(stdout) as { id: string }).id, ids[1]);
    assert.equal(ExactIndex.fromBuffer(readFileSync(indexFile(ledger))).size, 2);
  });
});
