import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { request } from 'undici';
import { imagePath, originalPath, variantPath } from '../../image/store.js';
import { DEFAULT_FORMATS } from '../../image/formats.js';
import { recompressOriginals } from '../../compress/lossless.js';
import { storeFile } from '../../store/index.js';
import { writeAtomic } from '../../common/atomic-write.js';
import { FALLBACK_MAX_AGE_S, OriginServer } from '../../origin/server.js';
import type { ResizeBackend } from '../../image/backend.js';
import { CpuBackend } from '../../image/cpu-backend.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { createLogger } from '../../common/logger.js';
import { until } from '../helpers/until.js';

const ENCODE = { quality: 85, progressive: true, chromaSubsampling: '4:2:0' } as const;

/** A backend whose resizes wait for the test to open the gate: overload without timing. */
class GatedBackend implements ResizeBackend {
  readonly name = 'gated';
  private readonly inner = new CpuBackend(1);
  private open!: () => void;
  readonly gate = new Promise<void>((r) => (this.open = r));
  /** Resizes begun, held at the gate until release. */
  waiting = 0;
  release(): void {
    this.open();
  }
  async resize(...args: Parameters<ResizeBackend['resize']>) {
    this.waiting++;
    await this.gate;
    return this.inner.resize(...args);
  }
  prepare(...args: Parameters<ResizeBackend['prepare']>) {
    return this.inner.prepare(...args);
  }
}

describe('origin service', function () {
  this.timeout(30000);
  let root: string;
  const id = '4200017';

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'hearth-origin-'));
    // Only the 1024 px size is stored (the fixtures are 1024 px wide).
    const k = await new CpuBackend(1).resize(readFileSync(join(FIXTURES, 'garden.jpg')), { size: 1024, square: false }, ENCODE);
    await writeAtomic(storeFile(root, imagePath(id, 'b')), k.data);
  });

  async function withServer<T>(opts: Partial<ConstructorParameters<typeof OriginServer>[0]>, f: (base: string, s: OriginServer) => Promise<T>): Promise<T> {
    const s = new OriginServer({
      store: root,
      host: '127.0.0.1',
      port: 0,
      storeDerived: true,
      maxConcurrent: 2,
      maxQueue: 4,
      encode: ENCODE,
      logger: createLogger('origin-test', 'silent'),
      ...opts,
    });
    const a = await s.start();
    try {
      return await f(`http://127.0.0.1:${a.port}`, s);
    } finally {
      await s.stop();
    }
  }
  const get = async (url: string, method: 'GET' | 'HEAD' = 'GET') => {
    const r = await request(url, { method });
    const body = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, body, headers: r.headers };
  };

  it('makes a variant of a stored size on the fly for a client that accepts it, stores it beside the JPEG once made, and sends a class the origin does not make its next best', async () => {
    const avifAccept = 'image/avif,image/webp,image/jpeg';
    await withServer({}, async (base, s) => {
      const r = await request(`${base}${imagePath(id, 'd')}`, { headers: { accept: avifAccept } });
      const body = Buffer.from(await r.body.arrayBuffer());
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['content-type'], 'image/avif');
      assert.equal(r.headers.vary, 'Accept');
      const m = await sharp(body).metadata();
      assert.equal(m.format, 'heif');
      assert.equal(Math.max(m.width, m.height), 500);
      // The largest stored size, with no original to make it from (a store of sizes only): from its own JPEG.
      const b = await request(`${base}${imagePath(id, 'b')}`, { headers: { accept: avifAccept } });
      assert.equal(b.statusCode, 200);
      assert.equal((await sharp(Buffer.from(await b.body.arrayBuffer())).metadata()).format, 'heif');
      const result = async (r: string) => (await s.metrics.requests.get()).values.find((v) => v.labels.result === r)?.value ?? 0;
      assert.equal(await result('variant'), 2);
      // Made once, then kept beside the JPEG (never under a served path): the next request is the stored file, the same bytes.
      assert.deepEqual(
        readdirSync(join(storeFile(root, imagePath(id, 'd')), '..')).filter((f) => f.startsWith(`${id}_d`)),
        [`${id}_d.avif`],
      );
      assert.ok(readFileSync(storeFile(root, variantPath(id, 'd', 'avif'))).equals(body));
      const storedBefore = await result('stored');
      const again = await request(`${base}${imagePath(id, 'd')}`, { headers: { accept: avifAccept } });
      assert.deepEqual([again.headers['content-type'], again.headers.etag], ['image/avif', r.headers.etag]);
      assert.ok(Buffer.from(await again.body.arrayBuffer()).equals(body));
      assert.deepEqual([await result('variant'), await result('stored')], [2, storedBefore + 1]);
    });
    await withServer({ formats: { ...DEFAULT_FORMATS, serve: ['webp'] } }, async (base) => {
      const r = await request(`${base}${imagePath(id, 'd')}`, { headers: { accept: avifAccept } });
      const body = Buffer.from(await r.body.arrayBuffer());
      assert.equal(r.headers['content-type'], 'image/webp');
      assert.equal((await sharp(body).metadata()).format, 'webp');
    });
    // Not stored (storeDerived off): later tests need `d`'s JPEG missing.
    await withServer({ formats: { ...DEFAULT_FORMATS, serve: [] }, storeDerived: false }, async (base) => {
      const r = await request(`${base}${imagePath(id, 'd')}`, { headers: { accept: avifAccept } });
      await r.body.dump();
      assert.equal(r.headers['content-type'], 'image/jpeg');
    });
    assert.equal(existsSync(storeFile(root, imagePath(id, 'd'))), false);
    // Without storeDerived a variant is made for each request and kept by the caches only.
    await withServer({ storeDerived: false }, async (base) => {
      const r = await request(`${base}${imagePath(id, 'n')}`, { headers: { accept: avifAccept } });
      await r.body.dump();
      assert.equal(r.headers['content-type'], 'image/avif');
    });
    assert.equal(existsSync(storeFile(root, variantPath(id, 'n', 'avif'))), false);
  });

  it('a class whose stored object is the JPEG (no smaller encoding at its score) gets it as image/jpeg, keyed and varied as its class', async () => {
    const jpeg = readFileSync(storeFile(root, imagePath(id, 'b')));
    await writeAtomic(storeFile(root, variantPath(id, 'b', 'webp')), jpeg);
    try {
      await withServer({}, async (base) => {
        const r = await request(`${base}${imagePath(id, 'b')}`, { headers: { accept: 'image/webp,image/jpeg' } });
        const body = Buffer.from(await r.body.arrayBuffer());
        assert.deepEqual([r.statusCode, r.headers['content-type'], r.headers.vary], [200, 'image/jpeg', 'Accept']);
        assert.ok(body.equals(jpeg));
      });
    } finally {
      rmSync(storeFile(root, variantPath(id, 'b', 'webp')), { force: true });
    }
  });

  it('serves a stored size, and makes a missing ladder size on the fly, then stores it', async () => {
    await withServer({}, async (base) => {
      const stored = await get(`${base}${imagePath(id, 'b')}`);
      assert.equal(stored.status, 200);
      const z = await get(`${base}${imagePath(id, 'z')}`);
      assert.equal(z.status, 200);
      assert.equal(z.headers['content-type'], 'image/jpeg');
      const m = await sharp(z.body).metadata();
      assert.equal(Math.max(m.width, m.height), 640);
      assert.ok(existsSync(storeFile(root, imagePath(id, 'z'))), 'derived size stored');
      const q = await sharp((await get(`${base}${imagePath(id, 'q')}`)).body).metadata();
      assert.deepEqual([q.width, q.height], [150, 150]);
      assert.equal((await get(`${base}${imagePath(id, 'm')}`, 'HEAD')).status, 200);
    });
  });

  it('makes a size no stored size is large enough for from the original, as uploaded or kept only as JPEG XL', async () => {
    const other = '4200018';
    await writeAtomic(storeFile(root, originalPath(other)), readFileSync(join(FIXTURES, 'garden.jpg')));
    await withServer({ storeDerived: false }, async (base) => {
      const z = await get(`${base}${imagePath(other, 'z')}`);
      assert.equal(z.status, 200);
      assert.equal(Math.max((await sharp(z.body).metadata()).width, (await sharp(z.body).metadata()).height), 640);
      await recompressOriginals({ store: root, policy: { only: new Set([originalPath(other)]) }, log: createLogger('origin-test', 'silent') });
      assert.equal(existsSync(storeFile(root, originalPath(other))), false, 'kept only as JPEG XL now');
      const n = await get(`${base}${imagePath(other, 'n')}`);
      assert.equal(n.status, 200);
      assert.equal(Math.max((await sharp(n.body).metadata()).width, (await sharp(n.body).metadata()).height), 320);
    });
  });

  it('answers 404 without work for paths outside the ladder or the layout, or with nothing stored', async () => {
    await withServer({}, async (base, s) => {
      for (const p of [
        `/photos/42000/${id}_x.jpg`,
        `/photos/42000/${id}_k.png`,
        `/photos/99/${id}_z.jpg`,
        '/photos/../etc/passwd',
        '/etc/passwd',
        `/photos/0/1_z.jpg`,
        `/photos/42000/${id}_k.jpg`,
      ]) {
        assert.equal((await get(`${base}${p}`)).status, 404, p);
      }
      assert.equal(
        (await s.metrics.derive.get()).values.filter((v) => v.metricName?.endsWith('_count')).reduce((a, v) => a + v.value, 0),
        0,
        'no resize happened',
      );
    });
  });

  it('bounds on-the-fly work: past the limit and the queue, 503 with Retry-After', async () => {
    const gated = new GatedBackend();
    await withServer({ backend: gated, maxConcurrent: 1, maxQueue: 1, storeDerived: false }, async (base, s) => {
      // Sizes no earlier test stored (z, q and m were).
      const sizes = ['c', 'd', 'n', 's'];
      const pending = sizes.map((sz) => get(`${base}${imagePath(id, sz)}`));
      // One runs (held at the gate), one waits, two are refused; then work may go.
      const overloads = async () => (await s.metrics.requests.get()).values.find((v) => v.labels.result === 'overload')?.value ?? 0;
      await until('two refused', async () => ((await overloads()) === 2 ? true : undefined));
      gated.release();
      const results = await Promise.all(pending);
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 503, 503]);
      assert.ok(results.filter((r) => r.status === 503).every((r) => r.headers['retry-after'] === '1'));
    });
  });

  it("while on-the-fly work is full, an AVIF client gets the size's stored JPEG, briefly cacheable, not a 503; without a stored JPEG, the 503", async () => {
    const gated = new GatedBackend();
    const avif = { accept: 'image/avif,image/webp,image/jpeg' };
    await withServer({ backend: gated, maxConcurrent: 1, maxQueue: 0, storeDerived: false }, async (base, s) => {
      const result = async (r: string) => (await s.metrics.requests.get()).values.find((v) => v.labels.result === r)?.value ?? 0;
      // The one slot taken (a size no test stores), held at the gate.
      const busy = get(`${base}${imagePath(id, 'c')}`);
      await until('the slot taken', () => (gated.waiting > 0 ? true : undefined));
      // A size whose JPEG is stored and whose AVIF is not.
      const jpeg = (await new CpuBackend(1).resize(readFileSync(storeFile(root, imagePath(id, 'b'))), { size: 75, square: true }, ENCODE)).data;
      await writeAtomic(storeFile(root, imagePath(id, 's')), jpeg);
      assert.equal(existsSync(storeFile(root, variantPath(id, 's', 'avif'))), false);
      const r = await request(`${base}${imagePath(id, 's')}`, { headers: avif });
      const body = Buffer.from(await r.body.arrayBuffer());
      assert.equal(r.statusCode, 200);
      assert.deepEqual([r.headers['content-type'], r.headers['cache-control'], r.headers.vary], ['image/jpeg', `max-age=${FALLBACK_MAX_AGE_S}`, 'Accept']);
      assert.ok(body.equals(jpeg), 'the stored JPEG');
      // Neither the JPEG nor the WebP of `n` is stored: nothing to fall back on.
      assert.equal(existsSync(storeFile(root, imagePath(id, 'n'))) || existsSync(storeFile(root, variantPath(id, 'n', 'webp'))), false);
      const none = await request(`${base}${imagePath(id, 'n')}`, { headers: { accept: 'image/webp,image/jpeg' } });
      await none.body.dump();
      assert.equal(none.statusCode, 503);
      assert.deepEqual([await result('fallback'), await result('overload')], [1, 1]);
      gated.release();
      assert.equal((await busy).status, 200);
    });
  });

  it('coalesces a stampede: 50 concurrent requests for one missing size run one resize and all get its bytes', async () => {
    const gated = new GatedBackend();
    let resizes = 0;
    const counting: ResizeBackend = {
      name: 'counting',
      resize: (...args) => {
        resizes++;
        return gated.resize(...args);
      },
      prepare: (...args) => gated.prepare(...args),
    };
    // A bound far smaller than the stampede: coalesced requests take no slot of their own.
    await withServer({ backend: counting, maxConcurrent: 1, maxQueue: 0, storeDerived: false }, async (base, s) => {
      const pending = Array.from({ length: 50 }, () => get(`${base}${imagePath(id, 'c')}`));
      await until('49 coalesced', async () => ((await s.metrics.coalesced.get()).values[0]?.value === 49 ? true : undefined));
      gated.release();
      const results = await Promise.all(pending);
      assert.equal(resizes, 1);
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      assert.ok(results.every((r) => r.body.equals(results[0]!.body)));
    });
  });

  it('answers 5xx with no-store, so no cache keeps an error', async () => {
    const failing: ResizeBackend = {
      name: 'failing',
      resize: () => Promise.reject(new Error('backend exploded')),
      prepare: () => Promise.reject(new Error('backend exploded')),
    };
    await withServer({ backend: failing, storeDerived: false }, async (base) => {
      const r = await get(`${base}${imagePath(id, 'd')}`);
      assert.equal(r.status, 500);
      assert.equal(r.headers['cache-control'], 'no-store');
    });
  });
});
