/** Lossless JPEG → JPEG XL with verify-before-delete: nothing is ever lost. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { request } from 'undici';
import { createLogger } from '../../common/logger.js';
import { parsePromText } from '../../common/prom-text.js';
import { LockedError } from '../../common/run-lock.js';
import { recompressOriginals } from '../../compress/lossless.js';
import { djxlReconstruct, nativeJxl, reconstruct, reconstructs, VerifierError } from '../../image/jxl.js';
import { readDigest } from '../../image/jxl-digest.js';
import { DirStore } from '../../store/index.js';
import { OriginServer } from '../../origin/server.js';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { phoneHeic } from '../helpers/heif.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

/** Real photographs as originals, each re-encoded at its own quality so no two are alike. */
async function originals(n: number): Promise<{ store: string; files: Map<string, Buffer> }> {
  const store = mkdtempSync(join(tmpdir(), 'hearth-lossless-'));
  const photos = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  const files = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const id = String(500000 + i);
    const dir = join(store, 'originals', id.slice(0, -2));
    mkdirSync(dir, { recursive: true });
    const data = await sharp(join(FIXTURES, photos[i % photos.length] as string))
      .jpeg({ quality: 80 + (i % 15), progressive: i % 2 === 0 })
      .toBuffer();
    writeFileSync(join(dir, `${id}.jpg`), data);
    files.set(join(dir, `${id}.jpg`), data);
  }
  return { store, files };
}

/** Every original is there byte for byte, or as a .jxl that reconstructs it byte for byte. */
async function nothingLost(files: Map<string, Buffer>): Promise<{ jpg: number; jxl: number }> {
  let jpg = 0;
  let jxl = 0;
  for (const [file, bytes] of files) {
    const j = file.replace(/\.jpg$/, '.jxl');
    const hasJpg = existsSync(file);
    const hasJxl = existsSync(j);
    assert.ok(hasJpg || hasJxl, `${file}: neither the original nor a .jxl`);
    if (hasJpg) assert.ok(readFileSync(file).equals(bytes), `${file}: original changed`);
    // djxl, not the tier's own verifier: an independent check.
    if (hasJxl) assert.ok((await djxlReconstruct(readFileSync(j))).equals(bytes), `${j}: does not reconstruct the original`);
    if (hasJxl && !hasJpg) jxl++;
    else jpg++;
  }
  return { jpg, jxl };
}

const quiet = createLogger('lossless-test', 'silent');

/** Processes (other than the test's own) whose command line has `marker` in it. */
function toolsNaming(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(marker) && Number(pid) !== process.pid) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('lossless recompression of originals (cjxl/djxl)', function () {
  this.timeout(120000);

  it('converts every original, byte-exact, and saves bytes', async () => {
    const { store, files } = await originals(6);
    const results = await recompressOriginals({ store, policy: {}, log: quiet });
    assert.deepEqual(
      results.map((r) => r.outcome),
      Array(6).fill('converted'),
    );
    assert.deepEqual(await nothingLost(files), { jpg: 0, jxl: 6 });
    const before = results.reduce((a, r) => a + r.bytesBefore!, 0);
    const after = results.reduce((a, r) => a + r.bytesAfter!, 0);
    assert.ok(after < before * 0.95, `saved only ${(1 - after / before) * 100}%`);
  });

  it('hearth-jxl (built by setup) verifies exact reconstructions only and reconstructs as djxl does', async () => {
    assert.ok(nativeJxl(), '.cache/bin/hearth-jxl is missing: run infra/setup.sh');
    const { store, files } = await originals(2);
    const [a, b] = [...files.keys()] as [string, string];
    const jxl = join(store, 'a.jxl');
    execFileSync('cjxl', [a, jxl, '--lossless_jpeg=1', '--quiet']);
    const pixelsOnly = join(store, 'pixels.jxl');
    execFileSync('cjxl', [a, pixelsOnly, '--lossless_jpeg=0', '--distance=1', '--quiet']);
    const truncated = join(store, 'truncated.jxl');
    writeFileSync(truncated, readFileSync(jxl).subarray(0, 2000));
    const flipped = join(store, 'flipped.jxl');
    const bytes = Buffer.from(readFileSync(jxl));
    const mid = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(mid) ^ 0x10, mid);
    writeFileSync(flipped, bytes);
    const cases: [string, string, boolean][] = [
      [jxl, a, true],
      [jxl, b, false],
      [pixelsOnly, a, false],
      [truncated, a, false],
      [flipped, a, false],
    ];
    for (const [file, original, expected] of cases) {
      assert.equal(await reconstructs(readFileSync(file), readFileSync(original)), expected, `native: ${file} vs ${original}`);
      const djxl = await djxlReconstruct(readFileSync(file)).then(
        (j) => j.equals(readFileSync(original)),
        () => false,
      );
      assert.equal(djxl, expected, `djxl: ${file} vs ${original}`);
    }
    // A decoder that fails on its own account (exit 2: I/O) is the verifier unable to run, not a verdict.
    const failing = join(store, 'failing-decoder.sh');
    writeFileSync(failing, '#!/bin/sh\necho "read error" >&2\nexit 2\n', { mode: 0o755 });
    const saved = process.env.HEARTH_JXL;
    process.env.HEARTH_JXL = failing;
    try {
      await assert.rejects(reconstructs(readFileSync(jxl), readFileSync(a)), VerifierError);
    } finally {
      if (saved === undefined) delete process.env.HEARTH_JXL;
      else process.env.HEARTH_JXL = saved;
    }
    assert.ok((await reconstruct(readFileSync(jxl))).equals(readFileSync(a)));
    // The length hint sizes the buffer; a wrong one only costs a second pass.
    assert.ok((await reconstruct(readFileSync(jxl), 1000)).equals(readFileSync(a)));
    await assert.rejects(reconstruct(readFileSync(pixelsOnly)));
    await assert.rejects(reconstruct(readFileSync(truncated)));
  });

  it('falls back to djxl where hearth-jxl is missing', async () => {
    const saved = process.env.HEARTH_JXL;
    process.env.HEARTH_JXL = '/nonexistent/hearth-jxl';
    try {
      assert.equal(nativeJxl(), undefined);
      const { store, files } = await originals(2);
      const results = await recompressOriginals({ store, policy: {}, log: quiet });
      assert.deepEqual(
        results.map((r) => r.outcome),
        ['converted', 'converted'],
      );
      assert.deepEqual(await nothingLost(files), { jpg: 0, jxl: 2 });
    } finally {
      if (saved === undefined) delete process.env.HEARTH_JXL;
      else process.env.HEARTH_JXL = saved;
    }
  });

  it('a verifier that cannot run stops the batch: originals kept, nothing written into the ledger', async () => {
    const { store, files } = await originals(2);
    const broken = join(store, 'broken-verifier.sh');
    writeFileSync(broken, '#!/bin/sh\necho "libjxl.so.0.7: cannot open shared object file" >&2\nexit 127\n', { mode: 0o755 });
    const saved = process.env.HEARTH_JXL;
    process.env.HEARTH_JXL = broken;
    try {
      await assert.rejects(
        recompressOriginals({ store, policy: {}, log: quiet }),
        (err: Error) => err instanceof VerifierError && /cannot open shared object/.test(err.message),
      );
    } finally {
      if (saved === undefined) delete process.env.HEARTH_JXL;
      else process.env.HEARTH_JXL = saved;
    }
    assert.deepEqual(await nothingLost(files), { jpg: 2, jxl: 0 });
    assert.ok(!existsSync(join(store, '.hearth-lossless-ledger.json')));
    const again = await recompressOriginals({ store, policy: {}, log: quiet });
    assert.deepEqual(
      again.map((r) => r.outcome),
      ['converted', 'converted'],
    );
  });

  it('one run per store: a second is refused while the first runs, a lock left by a killed run is taken over', async () => {
    const { store, files } = await originals(3);
    const first = recompressOriginals({ store, policy: {}, log: quiet });
    while (!existsSync(join(store, '.hearth-lossless.lock'))) await new Promise((r) => setImmediate(r));
    await assert.rejects(
      recompressOriginals({ store, policy: {}, log: quiet }),
      (err: Error) => err instanceof LockedError && /already running|is starting/.test(err.message),
    );
    assert.equal((await first).length, 3);
    assert.ok(!existsSync(join(store, '.hearth-lossless.lock')), 'lock released');
    // A lock naming a pid that no longer runs.
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(join(store, '.hearth-lossless.lock'), `${dead.pid}\n`);
    // Taken over: the run goes ahead (everything was converted above, so it finds nothing to do).
    assert.deepEqual((await recompressOriginals({ store, policy: {}, log: quiet })).length, 0);
    assert.ok(!existsSync(join(store, '.hearth-lossless.lock')), 'the taken-over lock is released');
    // An empty lock (a run killed between creating it and writing its pid) is stale once old.
    writeFileSync(join(store, '.hearth-lossless.lock'), '');
    await assert.rejects(recompressOriginals({ store, policy: {}, log: quiet }), /is starting/);
    utimesSync(join(store, '.hearth-lossless.lock'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    assert.deepEqual((await recompressOriginals({ store, policy: {}, log: quiet })).length, 0);
    assert.ok(!existsSync(join(store, '.hearth-lossless.lock')), 'the stale empty lock is taken over and released');
    assert.deepEqual(await nothingLost(files), { jpg: 0, jxl: 3 });
    await assert.rejects(recompressOriginals({ store: join(store, 'nope'), policy: {} }), /no store at/);
  });

  it('a corrupted .jxl beside its original is detected: the original is kept, the .jxl quarantined', async () => {
    const { store, files } = await originals(2);
    const [victim] = [...files.keys()] as [string];
    writeFileSync(victim.replace(/\.jpg$/, '.jxl'), Buffer.concat([Buffer.from([0xff, 0x0a]), Buffer.alloc(500, 7)]));
    const results = await recompressOriginals({ store, policy: {}, log: quiet });
    assert.equal(results.find((r) => victim.endsWith(r.path.slice(1)))?.outcome, 'mismatch');
    assert.ok(readFileSync(victim).equals(files.get(victim)!));
    assert.ok(readdirSync(join(victim, '..')).some((f) => f.includes('.jxl.corrupt-')));
    // Remembered: not retried in a loop.
    const again = await recompressOriginals({ store, policy: {}, log: quiet });
    assert.equal(again.find((r) => victim.endsWith(r.path.slice(1)))?.outcome, 'skipped_ledger');
  });

  it('a truncated or non-JPEG "original" is a counted failure, a HEIC is kept as it is (not_jpeg, nothing recorded); nothing is removed', async () => {
    const { store } = await originals(1);
    const dir = join(store, 'originals', '77');
    mkdirSync(dir, { recursive: true });
    const truncated = readFileSync(join(FIXTURES, 'aqua.jpg')).subarray(0, 3000);
    writeFileSync(join(dir, '7701.jpg'), truncated);
    writeFileSync(join(dir, '7702.jpg'), 'this is text, not a JPEG');
    const heic = await phoneHeic();
    writeFileSync(join(dir, '7703.jpg'), heic);
    const results = await recompressOriginals({ store, policy: {}, log: quiet });
    const bad = results.filter((r) => r.path.includes('/77/'));
    const h = bad.find((r) => r.path.endsWith('7703.jpg'));
    assert.deepEqual([h?.outcome, h?.error], ['not_jpeg', undefined], 'a HEIC: kept, and no ledger entry (it is no failure)');
    assert.ok(readFileSync(join(dir, '7703.jpg')).equals(heic) && !existsSync(join(dir, '7703.jxl')));
    assert.ok(
      bad.every((r) => r.outcome === 'not_jpeg' || r.outcome === 'mismatch'),
      JSON.stringify(bad),
    );
    assert.ok(readFileSync(join(dir, '7701.jpg')).equals(truncated));
    assert.ok(existsSync(join(dir, '7702.jpg')));
    assert.ok(!existsSync(join(dir, '7701.jxl')) && !existsSync(join(dir, '7702.jxl')));
  });

  it('never follows a link: an original linked from outside the store is neither read nor removed', async () => {
    const { store } = await originals(1);
    const outside = join(mkdtempSync(join(tmpdir(), 'hearth-outside-')), 'secret.jpg');
    copyFileSync(join(FIXTURES, 'garden.jpg'), outside);
    symlinkSync(outside, join(store, 'originals', '5000', '500099.jpg'));
    const results = await recompressOriginals({ store, policy: {}, log: quiet });
    assert.deepEqual(
      results.map((r) => [r.path, r.outcome]),
      [['/originals/5000/500000.jpg', 'converted']],
    );
    assert.ok(existsSync(outside) && lstatSync(join(store, 'originals', '5000', '500099.jpg')).isSymbolicLink());
    assert.ok(!existsSync(join(store, 'originals', '5000', '500099.jxl')));
  });

  it('follows the policy: larger than, older than, a list', async () => {
    const { store, files } = await originals(4);
    const [a, b] = [...files.keys()] as [string, string];
    const path = (f: string) => `/${f.slice(store.length + 1)}`;
    const listed = await recompressOriginals({ store, policy: { only: new Set([path(a)]) }, log: quiet });
    assert.deepEqual(
      listed.filter((r) => r.outcome === 'converted').map((r) => r.path),
      [path(a)],
    );
    const big = await recompressOriginals({ store, policy: { largerThanBytes: 10_000_000 }, log: quiet });
    assert.ok(big.every((r) => r.outcome === 'skipped_policy'));
    const old = await recompressOriginals({ store, policy: { olderThanDays: 30 }, log: quiet, now: () => Date.now() + 31 * 86_400_000 });
    assert.ok(old.some((r) => r.path === path(b) && r.outcome === 'converted'));
  });

  it('survives kill -9 at several points: every image is its original or a verified .jxl, never neither', async () => {
    const { store, files } = await originals(24);
    const dir = join(store, 'originals', '5000');
    const runOnce = () => spawn(process.execPath, [HEARTH_CLI, 'compress', 'originals', '--store', store, '--jobs', '2'], { stdio: 'ignore' });
    const count = (re: RegExp): number => readdirSync(dir).filter((f) => re.test(f)).length;
    // Kill points chosen by what is on disk, not by the clock, so each lands where it says.
    // The batch's tools work in temp directories named for its pid, outside the store.
    let tools = '';
    const transcoding = (): boolean => toolsNaming(tools).some((p) => p.includes('cjxl'));
    const points: [string, (jxlAtStart: number) => boolean][] = [
      ['cjxl is transcoding', transcoding],
      ['the first .jxl of the run is in place', (n) => count(/\.jxl$/) > n],
      ['three more .jxl are in place', (n) => count(/\.jxl$/) >= n + 3],
      ['cjxl again, later in the batch', transcoding],
    ];
    for (const [what, reached] of points) {
      const start = count(/\.jxl$/);
      const child = runOnce();
      tools = `hearth-jxl-${child.pid}-`;
      const exited = new Promise((r) => child.once('exit', r));
      let ended = false;
      void exited.then(() => (ended = true));
      const deadline = Date.now() + 20_000;
      while (!ended && !reached(start) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      // A batch that ended before the point was reached would skip it without a word.
      assert.ok(!ended && reached(start), `never reached: ${what}${ended ? ' (the batch ended first)' : ''}`);
      child.kill('SIGKILL');
      await exited;
      // Its cjxl and verifier children die with it (setpriv --pdeathsig), rather than
      // writing temp files into the store behind the next run's back.
      await until(`no child of the killed run left (${what})`, () => (toolsNaming(tools).length === 0 ? true : undefined), 3000);
      await nothingLost(files);
    }
    const done = runOnce();
    assert.equal(await new Promise((r) => done.once('exit', r)), 0);
    assert.deepEqual(await nothingLost(files), { jpg: 0, jxl: 24 });
    for (const f of readdirSync(dir)) assert.match(f, /^\d+\.jxl$/, `left behind: ${f}`);
    const s = new DirStore(store);
    for (const f of readdirSync(dir)) assert.ok(await readDigest(s, `/originals/5000/${f}`), `${f} has no digest`);
    // The next run sweeps the killed runs' temp directories.
    assert.deepEqual(
      readdirSync(tmpdir()).filter((n) => /^hearth-jxl-\d+-/.test(n) && !existsSync(`/proc/${n.split('-')[2]}`)),
      [],
    );
  });

  it('reconstructs every photograph of the corpus byte for byte', async () => {
    const src = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';
    assert.ok(existsSync(src), `no photographs in ${src}; run infra/setup.sh`);
    const store = mkdtempSync(join(tmpdir(), 'hearth-lossless-corpus-'));
    mkdirSync(join(store, 'originals'));
    const files = new Map<string, Buffer>();
    for (const name of readdirSync(src).filter((f) => /\.jpe?g$/i.test(f))) {
      const file = join(store, 'originals', name.replace(/\.jpeg$/i, '.jpg'));
      copyFileSync(join(src, name), file);
      files.set(file, readFileSync(file));
    }
    assert.ok(files.size >= 20, `only ${files.size} photographs`);
    const results = await recompressOriginals({ store, policy: {}, log: quiet });
    assert.deepEqual(
      results.filter((r) => r.outcome !== 'converted'),
      [],
    );
    assert.deepEqual(await nothingLost(files), { jpg: 0, jxl: files.size });
    rmSync(store, { recursive: true, force: true });
  });

  it('the CLI writes its metrics for the textfile collector and refuses bad numbers', async () => {
    const { store } = await originals(3);
    mkdirSync(join(store, 'originals', '99'));
    writeFileSync(join(store, 'originals', '99', '9901.jpg'), 'not a JPEG');
    const metricsFile = join(store, 'lossless.prom');
    const out = execFileSync(process.execPath, [HEARTH_CLI, 'compress', 'originals', '--store', store, '--metrics-file', metricsFile], { encoding: 'utf8' });
    // Logs go to stdout too; the summary is the last line.
    assert.equal((JSON.parse(out.trim().split('\n').pop()!) as { converted: number }).converted, 3);
    const m = parsePromText(readFileSync(metricsFile, 'utf8'));
    assert.equal(m.get('hearth_lossless_files_total{outcome="converted",component="lossless"}'), 3);
    assert.equal(m.get('hearth_lossless_files_total{outcome="not_jpeg",component="lossless"}'), 1);
    assert.ok(
      (m.get('hearth_lossless_input_bytes_total{component="lossless"}') ?? 0) > (m.get('hearth_lossless_output_bytes_total{component="lossless"}') ?? 0),
    );
    assert.equal(m.get('hearth_lossless_file_duration_seconds_count{component="lossless"}'), 4);
    assert.ok(Math.abs((m.get('hearth_lossless_last_update_timestamp_seconds{component="lossless"}') ?? 0) - Date.now() / 1000) < 60);
    assert.throws(
      () => execFileSync(process.execPath, [HEARTH_CLI, 'compress', 'originals', '--store', store, '--jobs', 'many'], { stdio: 'pipe' }),
      /expected a whole number/,
    );
  });

  it('the origin serves an original kept only as JPEG XL, byte-identical to the upload', async () => {
    const { store, files } = await originals(1);
    await recompressOriginals({ store, policy: {}, log: quiet });
    const [file, bytes] = [...files][0] as [string, Buffer];
    assert.ok(!existsSync(file));
    const s = new OriginServer({
      store,
      host: '127.0.0.1',
      port: 0,
      storeDerived: false,
      maxConcurrent: 1,
      maxQueue: 2,
      encode: { quality: 85, progressive: true, chromaSubsampling: '4:2:0' },
      logger: quiet,
    });
    const a = await s.start();
    try {
      const res = await request(`http://127.0.0.1:${a.port}/${file.slice(store.length + 1)}`);
      assert.equal(res.statusCode, 200);
      assert.ok(Buffer.from(await res.body.arrayBuffer()).equals(bytes), 'reconstructed bytes differ from the upload');
    } finally {
      await s.stop();
    }
  });
});
