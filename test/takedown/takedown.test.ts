import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deletePhoto, imagePath, originalPath, photoKeys, putUnlessTakenDown, readVerdict, servedPaths, variantPath, writeVerdict } from '../../image/index.js';
import { DirStore } from '../../store/index.js';
import { cacheFile } from '../../takedown/purger.js';

describe("taking a photo back (image/takedown.ts, the purger's cache files)", () => {
  const store = () => new DirStore(mkdtempSync(join(tmpdir(), 'hearth-takedown-')));

  it('finds a cache entry where nginx keeps it: the MD5 of the key, the last characters as directories, last level first', () => {
    // Taken from a cache node of the local stack (levels=1:2) that had cached this path.
    assert.equal(cacheFile('/c', '1:2', '/photos/1140/114023_z.jpg'), '/c/d/9a/a47a25af4008fc29de7fd300d1ad39ad');
    const md5 = createHash('md5').update('/originals/1/123.jpg').digest('hex');
    assert.equal(cacheFile('/c', '2', '/originals/1/123.jpg'), `/c/${md5.slice(30)}/${md5}`);
    assert.equal(cacheFile('/c', '1:1:2', '/originals/1/123.jpg'), `/c/${md5[31]}/${md5[30]}/${md5.slice(28, 30)}/${md5}`);
  });

  it('deletes every object of a photo after its verdict, keeps the verdict, and says what it removed; a repeat keeps the first time', async () => {
    const s = store();
    const id = '4242';
    await s.put(originalPath(id), Buffer.from('original'));
    await s.put(imagePath(id, 'z'), Buffer.from('z'));
    await s.put(originalPath(id).replace(/\.jpg$/, '.jxl'), Buffer.from('jxl'));
    await s.put(variantPath(id, 'z', 'avif'), Buffer.from('the AVIF the origin made'));
    await s.put(variantPath(id, 'n', 'webp'), Buffer.from('the WebP the origin made'));
    await s.put(imagePath('4243', 'z'), Buffer.from('another photo'));
    const first = await deletePhoto(s, id, 'a test');
    assert.equal(first.first, true);
    assert.deepEqual(
      first.removed.sort(),
      [originalPath(id), originalPath(id).replace(/\.jpg$/, '.jxl'), imagePath(id, 'z'), variantPath(id, 'z', 'avif'), variantPath(id, 'n', 'webp')].sort(),
    );
    for (const k of photoKeys(id)) assert.equal(await s.head(k), undefined, k);
    assert.ok(await s.head(imagePath('4243', 'z')), 'another photo is untouched');
    const v = await readVerdict(s, id);
    assert.deepEqual(v, { v: 1, verdict: 'deleted', at: first.at, by: 'a test' });
    const again = await deletePhoto(s, id, 'someone else');
    assert.deepEqual({ first: again.first, removed: again.removed, at: again.at }, { first: false, removed: [], at: first.at });
    assert.deepEqual(await readVerdict(s, id), v);
  });

  it('a write that races a delete never leaves an object behind, whichever comes first', async () => {
    const s = store();
    // The write first: the delete that follows removes it.
    assert.equal(await putUnlessTakenDown(s, '7', imagePath('7', 'z'), Buffer.from('z')), true);
    await deletePhoto(s, '7', 'a test');
    assert.equal(await s.head(imagePath('7', 'z')), undefined);
    // The verdict first: the writer sees it after its put and takes the object back.
    assert.equal(await putUnlessTakenDown(s, '7', imagePath('7', 'm'), Buffer.from('m')), false);
    assert.equal(await s.head(imagePath('7', 'm')), undefined);
    // A quarantine holds writers off the same way.
    await writeVerdict(s, '8', { v: 1, verdict: 'quarantined', listed: '0'.repeat(64), distance: 3, at: new Date().toISOString() });
    assert.equal(await putUnlessTakenDown(s, '8', imagePath('8', 'z'), Buffer.from('z')), false);
  });

  it('names every path a cache may hold: each size of the ladder and the original', () => {
    const paths = servedPaths('123456');
    assert.equal(paths.length, 11);
    assert.ok(paths.includes('/photos/1234/123456_k.jpg') && paths.includes('/photos/1234/123456_s.jpg') && paths.includes('/originals/1234/123456.jpg'));
  });
});
