/** `hearth store report`: bytes by kind and per photo, and the savings, on a real corpus, through either driver. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { buildCorpus, findJpegs } from '../../corpus/build.js';
import { parsePromText } from '../../common/prom-text.js';
import { digestMeta } from '../../image/jxl-digest.js';
import { DirStore } from '../../store/index.js';
import { storeReport, type StoreReport } from '../../store-server/index.js';
import { FIXTURES } from '../helpers/test-stack.js';

const run = promisify(execFile);

describe('hearth store report', function () {
  this.timeout(120_000);

  it('adds up every object by kind, per photo, with what JPEG XL and perceptual markers saved', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'hearth-report-')), 'store');
    await buildCorpus({ sources: findJpegs(FIXTURES).slice(0, 2), out: root, idsPerPhoto: 2 });
    const store = new DirStore(root);
    let total = 0;
    const before: Record<string, number> = {};
    for await (const o of store.list('/')) {
      total += o.size;
      const size = /_([a-z]+)\.jpg$/.exec(o.key)?.[1];
      if (size && o.key.startsWith('/photos/')) before[size] = (before[size] ?? 0) + o.size;
    }
    // A resize with a marker, an original kept as JPEG XL with its digest, a quarantined original.
    const [first] = Object.keys(before);
    let marked = '';
    for await (const o of store.list('/photos/')) if (o.key.endsWith(`_${first}.jpg`)) marked ||= o.key;
    await store.put(marked, await store.get(marked), { pq: JSON.stringify({ bytesBefore: 5000, bytesAfter: 4000 }) });
    await store.put('/originals/99/9900.jxl', Buffer.alloc(700));
    await store.put('/originals/99/9900.jxl.digest', Buffer.from(JSON.stringify({ v: 1, sha256: 'a'.repeat(64), bytes: 1000, source: 'transcode', at: 'x' })));
    // And one as the lossless tier writes it now: the digest in the .jxl's metadata.
    await store.put('/originals/99/9902.jxl', Buffer.alloc(600), digestMeta({ v: 1, sha256: 'b'.repeat(64), bytes: 900, source: 'transcode', at: 'x' }));
    await store.put('/quarantine/99/9901.jpg', Buffer.alloc(300));
    const r = await storeReport(store);
    assert.equal(r.photos, 4 + 2);
    assert.deepEqual(r.bytes.sizes, before);
    assert.equal(r.bytes.jxlOriginals, 700 + 600);
    assert.equal(r.bytes.quarantined, 300);
    assert.equal(r.saved.lossless, 300 + 300);
    assert.equal(r.saved.perceptual, 1000);
    const digestBytes = (await store.head('/originals/99/9900.jxl.digest'))!.size;
    assert.equal(r.bytes.total, total + 700 + digestBytes + 600 + 300);
    assert.equal(
      r.bytes.originals + r.bytes.jxlOriginals + Object.values(r.bytes.sizes).reduce((a, b) => a + b, 0) + r.bytes.quarantined + r.bytes.other,
      r.bytes.total,
    );
    assert.equal(r.perPhoto.total, r.bytes.total / 6);
    const metricsFile = join(root, '..', 'store-report.prom');
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'store', 'report', '--store', root, '--json', '--metrics-file', metricsFile]);
    assert.deepEqual(JSON.parse(stdout) as StoreReport, r);
    const m = parsePromText(readFileSync(metricsFile, 'utf8'));
    assert.equal(m.get('hearth_store_report_photos{component="store-report"}'), 6);
    assert.equal(m.get('hearth_store_report_bytes{kind="jxl_originals",component="store-report"}'), 1300);
    assert.equal(m.get(`hearth_store_report_bytes{kind="size_${first}",component="store-report"}`), before[first!]);
    assert.equal(m.get('hearth_store_report_saved_bytes{technique="lossless",component="store-report"}'), 600);
    assert.equal(m.get('hearth_store_report_saved_bytes{technique="perceptual",component="store-report"}'), 1000);
    const table = await run(process.execPath, [HEARTH_CLI, 'store', 'report', '--store', root]);
    assert.match(table.stdout, /^originals \(JPEG XL\)\s+0\.00\s+0\.2$/m);
    assert.match(table.stdout, /photos: 6; saved by JPEG XL originals 0\.00 MB, by perceptual sizes 0\.00 MB/);
  });
});
