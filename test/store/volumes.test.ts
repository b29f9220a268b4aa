/**
 * The volumes engine beyond the contract every driver runs: restart, crashes, damage,
 * compaction and a full disk, against real files (and a real tmpfs for the disk).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../common/random.js';
import { DamagedObjectError, StoreFullError, VolumeEngine, type EngineObserver } from '../../store/index.js';
import { INDEX_RECORDS_AT } from '../../store/volumes/volume-file.js';
import { decodeKey, encodeKey } from '../../store/volumes/key-codec.js';
import { decodeNeedle, encodeNeedle, NeedleError } from '../../store/volumes/needle.js';
import { bytesFor, killWriterRepeatedly } from '../helpers/volume-writer.js';

const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

const fresh = (): string => mkdtempSync(join(tmpdir(), 'hearth-volumes-'));
const keyOf = (id: number, size = 'z'): string => `/photos/${Math.floor(id / 100)}/${id}_${size}.jpg`;

interface Seen {
  damaged: string[];
  torn: number[];
  full: number;
  batches: number[];
}
function watching(): { seen: Seen; observer: EngineObserver } {
  const seen: Seen = { damaged: [], torn: [], full: 0, batches: [] };
  return {
    seen,
    observer: {
      damaged: (d) => seen.damaged.push(`${d.volume}@${d.offset}: ${d.why}`),
      tornTail: (t) => seen.torn.push(t.bytes),
      full: () => seen.full++,
      committed: (n) => seen.batches.push(n),
    },
  };
}

/** Fills a store with `n` objects over several small volumes, replacing and deleting some; returns what must be there. */
async function filled(dir: string, n: number, o: { volumeBytes?: number } = {}): Promise<Map<string, Buffer | undefined>> {
  const engine = await VolumeEngine.open({ dir, volumeBytes: o.volumeBytes ?? 64 * 1024, minFreeBytes: 0 });
  const want = new Map<string, Buffer | undefined>();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const key = keyOf(4200 + i);
      await engine.put(key, bytesFor(key));
      want.set(key, bytesFor(key));
    }),
  );
  for (let i = 0; i < n; i += 7) {
    await engine.delete(keyOf(4200 + i));
    want.set(keyOf(4200 + i), undefined);
  }
  for (let i = 3; i < n; i += 11) {
    const key = keyOf(4200 + i);
    const data = Buffer.concat([bytesFor(key), Buffer.from('again')]);
    await engine.put(key, data, { pq: 'x' });
    want.set(key, data);
  }
  await engine.close();
  return want;
}

/** A fresh store of `n` needles, keys from id `base` on, closed. */
async function written(n: number, base: number): Promise<string> {
  const dir = fresh();
  const engine = await VolumeEngine.open({ dir, minFreeBytes: 0 });
  for (let i = 0; i < n; i++) await engine.put(keyOf(base + i), bytesFor(keyOf(base + i)));
  await engine.close();
  return dir;
}

async function holds(engine: VolumeEngine, want: Map<string, Buffer | undefined>): Promise<void> {
  for (const [key, data] of want) {
    if (data) assert.ok((await engine.get(key)).equals(data), `${key} reads back other bytes`);
    else assert.equal(await engine.head(key), undefined, `${key} was deleted`);
  }
}

const flip = (b: Buffer, at: number, bits: number): void => {
  b[at] = b[at]! ^ bits;
};
const volumeFiles = (dir: string, ext: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => join(dir, f));

describe('the volumes engine', function () {
  this.timeout(120_000);

  it('restarts from its index files: every object, every delete, every replacement as it was; one lock per directory', async () => {
    const dir = fresh();
    const want = await filled(dir, 300);
    assert.ok(volumeFiles(dir, '.vol').length > 5, 'the load spans many volumes');
    const engine = await VolumeEngine.open({ dir, volumeBytes: 64 * 1024, minFreeBytes: 0 });
    try {
      await holds(engine, want);
      const stats = await engine.stats();
      assert.equal(stats.objects, [...want.values()].filter(Boolean).length);
      assert.ok(stats.garbageRatio > 0.05, `deletes and replacements leave garbage (${stats.garbageRatio})`);
      await assert.rejects(VolumeEngine.open({ dir }), { code: 'HEARTH_ERR_LOCKED' });
    } finally {
      await engine.close();
    }
  });

  it('group commit: concurrent writers share fsyncs', async () => {
    const { seen, observer } = watching();
    const engine = await VolumeEngine.open({ dir: fresh(), observer, minFreeBytes: 0 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => engine.put(keyOf(7000 + i), bytesFor(keyOf(7000 + i)))));
    await engine.close();
    assert.equal(
      seen.batches.reduce((a, b) => a + b, 0),
      200,
    );
    assert.ok(seen.batches.length < 100, `200 writes took ${seen.batches.length} commits`);
  });

  it('cuts off a torn tail at start (counted), and keeps everything acknowledged before it', async () => {
    const dir = fresh();
    const want = await filled(dir, 60);
    const last = volumeFiles(dir, '.vol').at(-1)!;
    // Half a needle, as a crash mid-write leaves it.
    appendFileSync(last, encodeNeedle(keyOf(9999), Buffer.alloc(5000, 1)).subarray(0, 3000));
    const { seen, observer } = watching();
    const engine = await VolumeEngine.open({ dir, volumeBytes: 64 * 1024, minFreeBytes: 0, observer });
    try {
      assert.deepEqual(seen.torn, [3000]);
      await holds(engine, want);
      assert.equal(await engine.head(keyOf(9999)), undefined);
      await engine.put(keyOf(9998), Buffer.from('after'));
    } finally {
      await engine.close();
    }
    const again = await VolumeEngine.open({ dir, volumeBytes: 64 * 1024, minFreeBytes: 0 });
    assert.deepEqual(await again.get(keyOf(9998)), Buffer.from('after'));
    await again.close();
  });

  it("keeps a whole needle written after the index's last record (killed between the two fsyncs)", async () => {
    const dir = fresh();
    const want = await filled(dir, 20);
    appendFileSync(volumeFiles(dir, '.vol').at(-1)!, encodeNeedle(keyOf(9997), Buffer.from('unindexed')));
    const engine = await VolumeEngine.open({ dir, volumeBytes: 64 * 1024, minFreeBytes: 0 });
    await holds(engine, want);
    assert.deepEqual(await engine.get(keyOf(9997)), Buffer.from('unindexed'));
    await engine.close();
  });

  it('rebuilds a missing, truncated or damaged index file (any record, however old) from its volume, never trusting it', async () => {
    const dir = fresh();
    const want = await filled(dir, 200);
    const idx = volumeFiles(dir, '.idx');
    rmSync(idx[0]!);
    truncateSync(idx[1]!, 40);
    const b = readFileSync(idx[2]!);
    flip(b, INDEX_RECORDS_AT + 8, 0x10); // one record's offset
    writeFileSync(idx[2]!, b);
    // The oldest record's key hash: tiling cannot see it, only the summary's checksum (the key would read as missing, or a delete not apply).
    const d = readFileSync(idx[4]!);
    flip(d, INDEX_RECORDS_AT, 0x04);
    writeFileSync(idx[4]!, d);
    const c = readFileSync(idx.at(-2)!);
    flip(c, c.length - 16, 0x01); // the newest record's key hash: only its needle can tell
    writeFileSync(idx.at(-2)!, c);
    writeFileSync(idx[3]!, 'not an index at all');
    const engine = await VolumeEngine.open({ dir, volumeBytes: 64 * 1024, minFreeBytes: 0 });
    try {
      await holds(engine, want);
    } finally {
      await engine.close();
    }
  });

  it('never serves a needle that fails its checksum: DamagedObjectError, logged for repair; its neighbours unharmed', async () => {
    const dir = await written(3, 100);
    const vol = volumeFiles(dir, '.vol')[0]!;
    const b = readFileSync(vol);
    const middle = b.indexOf(bytesFor(keyOf(101)).subarray(100, 140));
    flip(b, middle, 0x04);
    writeFileSync(vol, b);
    const { seen, observer } = watching();
    const again = await VolumeEngine.open({ dir, minFreeBytes: 0, observer });
    try {
      await assert.rejects(
        again.get(keyOf(101)),
        (e: DamagedObjectError) => e instanceof DamagedObjectError && e.code === 'HEARTH_ERR_INTEGRITY' && e.key === keyOf(101),
      );
      assert.equal(seen.damaged.length, 1);
      assert.ok((await again.get(keyOf(100))).equals(bytesFor(keyOf(100))));
      assert.ok((await again.get(keyOf(102))).equals(bytesFor(keyOf(102))));
    } finally {
      await again.close();
    }
  });

  it('a damaged middle does not cost the needles after it when the index is rebuilt', async () => {
    const dir = await written(10, 200);
    const vol = volumeFiles(dir, '.vol')[0]!;
    const b = readFileSync(vol);
    const at = b.indexOf(bytesFor(keyOf(204)).subarray(0, 64));
    b.fill(0xee, at - 20, at + 200); // header and start of one needle
    writeFileSync(vol, b);
    rmSync(volumeFiles(dir, '.idx')[0]!);
    const { seen, observer } = watching();
    const again = await VolumeEngine.open({ dir, minFreeBytes: 0, observer });
    try {
      for (let i = 0; i < 10; i++) {
        if (i === 4) assert.equal(await again.head(keyOf(204)), undefined);
        else assert.ok((await again.get(keyOf(200 + i))).equals(bytesFor(keyOf(200 + i))), `needle ${i} lost`);
      }
      assert.equal(seen.damaged.length, 1, seen.damaged.join('; '));
    } finally {
      await again.close();
    }
  });

  it(`fuzz (seed ${SEED}): damaged needles and keys are a NeedleError or undefined, never another exception, never other bytes`, () => {
    const random = seededRandom(SEED);
    const int = (n: number): number => Math.floor(random() * n);
    for (let round = 0; round < 3000; round++) {
      const key = random() < 0.5 ? keyOf(1 + int(1e9), ['z', 'b', 'sq', 'xyz'][int(4)]) : `/x/${'abc/'.repeat(int(5))}${int(1e6)}.bin`;
      assert.equal(decodeKey(encodeKey(key)), key, `seed ${SEED}: ${key}`);
      const data = Buffer.from(Array.from({ length: int(300) }, () => int(256)));
      const needle = encodeNeedle(key, data, random() < 0.3 ? { pq: String(int(1000)) } : undefined);
      const damaged = Buffer.from(needle);
      const how = int(4);
      if (how === 0) flip(damaged, int(damaged.length), 1 << int(8));
      else if (how === 1) for (let i = 0; i < 1 + int(8); i++) damaged[int(damaged.length)] = int(256);
      else if (how === 2) damaged.writeUInt32LE(int(2 ** 32), 4);
      const input = how === 3 ? damaged.subarray(0, int(damaged.length)) : damaged;
      try {
        const n = decodeNeedle(input);
        assert.ok(n.data.equals(data) && n.key === key, `seed ${SEED}, round ${round}: damage decoded to other bytes`);
      } catch (err) {
        assert.ok(err instanceof NeedleError, `seed ${SEED}, round ${round}: ${String(err)}`);
      }
      const junk = Buffer.from(Array.from({ length: int(20) }, () => int(256)));
      const k = decodeKey(junk);
      if (k !== undefined) assert.ok(encodeKey(k).equals(junk), `seed ${SEED}: ${junk.toString('hex')} decodes to ${k}, which encodes otherwise`);
    }
  });

  it(`fuzz (seed ${SEED}): random damage to index files never stops the engine or changes a byte it serves`, async () => {
    const random = seededRandom(SEED ^ 0x1d3);
    const dir = fresh();
    const want = await filled(dir, 150);
    for (let round = 0; round < 6; round++) {
      for (const f of volumeFiles(dir, '.idx')) {
        if (random() < 0.5) continue;
        const b = readFileSync(f);
        for (let i = 0; i < 1 + Math.floor(random() * 4); i++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
        writeFileSync(f, random() < 0.2 ? b.subarray(0, Math.floor(random() * b.length)) : b);
      }
      const engine = await VolumeEngine.open({ dir, volumeBytes: 64 * 1024, minFreeBytes: 0 });
      try {
        await holds(engine, want);
      } finally {
        await engine.close();
      }
    }
  });

  it('compacts a sealed volume while reads and writes go on: nothing lost, garbage gone, the result survives a restart', async () => {
    const dir = fresh();
    const engine = await VolumeEngine.open({ dir, volumeBytes: 256 * 1024, minFreeBytes: 0 });
    const want = new Map<string, Buffer | undefined>();
    for (let i = 0; i < 120; i++) {
      const key = keyOf(300 + i);
      await engine.put(key, bytesFor(key));
      want.set(key, bytesFor(key));
    }
    for (let i = 0; i < 120; i += 2) {
      await engine.delete(keyOf(300 + i));
      want.set(keyOf(300 + i), undefined);
    }
    const first = (await engine.stats()).perVolume[0]!;
    assert.ok(first.sealed);
    // Meanwhile: reads of everything, new puts, and deletes and replacements of needles being copied.
    const traffic = (async () => {
      for (let round = 0; round < 5; round++) {
        await holds(engine, want);
        const key = keyOf(1000 + round);
        await engine.put(key, bytesFor(key));
        want.set(key, bytesFor(key));
        await engine.delete(keyOf(301 + round * 2));
        want.set(keyOf(301 + round * 2), undefined);
        const replaced = Buffer.from(`replaced ${round}`);
        await engine.put(keyOf(311 + round * 2), replaced);
        want.set(keyOf(311 + round * 2), replaced);
      }
    })();
    const { before, after } = await engine.compact(first.name);
    await traffic;
    assert.ok(after < before * 0.7, `compaction left ${after} of ${before} bytes`);
    await holds(engine, want);
    const compacted = (await engine.stats()).perVolume[0]!;
    assert.equal(compacted.name, first.name);
    await engine.close();
    const again = await VolumeEngine.open({ dir, volumeBytes: 256 * 1024, minFreeBytes: 0 });
    await holds(again, want);
    await again.close();
  });

  it('refuses to compact without room for the copy, writing nothing; never compacts the volume being written', async () => {
    const dir = fresh();
    const engine = await VolumeEngine.open({ dir, volumeBytes: 32 * 1024, minFreeBytes: 0 });
    for (let i = 0; i < 30; i++) await engine.put(keyOf(500 + i), bytesFor(keyOf(500 + i)));
    const stats = await engine.stats();
    await assert.rejects(engine.compact(stats.perVolume.at(-1)!.name), { code: 'HEARTH_ERR_INVALID' });
    await engine.close();
    const tight = await VolumeEngine.open({ dir, volumeBytes: 32 * 1024, minFreeBytes: stats.freeBytes * 2 });
    const files = readdirSync(dir).sort();
    await assert.rejects(tight.compact(stats.perVolume[0]!.name), (e: Error) => e instanceof StoreFullError && /needs \d+ free bytes/.test(e.message));
    assert.deepEqual(readdirSync(dir).sort(), files);
    await assert.rejects(tight.put(keyOf(600), Buffer.from('x')), StoreFullError);
    assert.ok((await tight.get(keyOf(500))).equals(bytesFor(keyOf(500))), 'reads go on');
    await tight.close();
  });

  it('a full disk (a small tmpfs) refuses puts with StoreFullError, keeps reads, and damages nothing stored', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const mnt = fresh();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    try {
      const dir = join(mnt, 'store');
      mkdirSync(dir);
      // No reserve: the disk itself runs out (ENOSPC), not the engine's own check.
      const { seen, observer } = watching();
      const engine = await VolumeEngine.open({ dir, minFreeBytes: 0, observer });
      const stored: string[] = [];
      let refused = 0;
      for (let i = 0; i < 400 && refused < 5; i++) {
        const key = keyOf(800 + i);
        try {
          await engine.put(key, bytesFor(key));
          stored.push(key);
        } catch (err) {
          assert.ok(err instanceof StoreFullError, String(err));
          refused++;
        }
      }
      assert.equal(refused, 5);
      assert.ok(seen.full >= 5 && stored.length > 50);
      for (const key of stored) assert.ok((await engine.get(key)).equals(bytesFor(key)));
      await engine.close();
      const again = await VolumeEngine.open({ dir, minFreeBytes: 0 });
      for (const key of stored) assert.ok((await again.get(key)).equals(bytesFor(key)));
      assert.equal(await again.delete(stored[0]!), true, 'a delete still goes through on a full disk');
      await again.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('kill -9 mid-write, again and again: every acknowledged put reads back byte-exact, every acknowledged delete stays deleted', async () => {
    const dir = fresh();
    const state = await killWriterRepeatedly({ dir, kills: 8, random: seededRandom(SEED ^ 0x9), volumeBytes: 128 * 1024, maxMs: 400 });
    const { seen, observer } = watching();
    const engine = await VolumeEngine.open({ dir, volumeBytes: 128 * 1024, minFreeBytes: 0, observer });
    try {
      let checked = 0;
      for (const [key, op] of state) {
        if (op === 'put') {
          assert.ok((await engine.get(key)).equals(bytesFor(key)), `${key}: acknowledged, then lost or changed`);
          checked++;
        } else if (op === 'delete') assert.equal(await engine.head(key), undefined, `${key}: deleted, then back`);
      }
      assert.ok(checked > 100, `only ${checked} acknowledged puts`);
      assert.equal(seen.damaged.length, 0, seen.damaged.join('; '));
      const size = statSync(volumeFiles(dir, '.vol').at(-1)!).size;
      assert.equal(size % 4, 0);
    } finally {
      await engine.close();
    }
  });
});
