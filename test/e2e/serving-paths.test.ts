/**
 * Nothing but images is served, at the caches, the proxy, the origin front and the
 * origin service; a damaged original is a 500 that no cache keeps. On real nginx.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { imagePath } from '../../image/store.js';
import { storeFile } from '../../store/index.js';
import { FIXTURES, testStack, type TestStack } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

async function get(address: string, path: string, host?: string) {
  const res = await request(`http://${address}${path}`, { headers: host ? { host } : {}, reset: true });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, cache: String(res.headers['x-cache-status'] ?? ''), cacheControl: res.headers['cache-control'], body };
}

interface RawAccess {
  uri: string;
  status: number;
  upstream: string;
}
const accessLines = (file: string): RawAccess[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RawAccess);

describe('only image paths are served (shared local stack)', function () {
  this.timeout(60000);
  let s: TestStack;
  const sin = () => s.topology.colos[0]!.nodes[0]!;
  const logOf = (name: string) => join(s.stack.instances().find((n) => n.inst.name === name)!.inst.dir, 'logs', 'access.log');
  const put = (path: string, data: Buffer | string): void => {
    const f = storeFile(s.root, path);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, data);
  };

  before(async () => {
    s = await testStack();
    const photo = readFileSync(join(FIXTURES, 'aqua.jpg'));
    put('/originals/77/7700.jpg', photo);
    put('/originals/77/7702.jxl', 'not served');
    put('/originals/77/7702.jxl.digest', '{}');
    put('/originals/77/.hearth-perceptual.json', '{}');
    put('/.hearth-lossless-ledger.json', '{}');
    put('/photos/77/7700_z.jpg.tmp-1-abc', photo);
    // A .jxl without a digest stands for any damaged one here; integrity.test.ts covers the kinds of damage.
    put('/originals/77/7701.jxl', 'x');
  });

  const NOT_IMAGES = [
    '/metrics',
    '/manifest.json',
    '/originals/77/7702.jxl',
    '/originals/77/7702.jxl.digest',
    '/originals/77/.hearth-perceptual.json',
    '/.hearth-lossless-ledger.json',
    '/photos/77/7700_z.jpg.tmp-1-abc',
    '/photos/77/../../manifest.json',
    '/healthz',
    '/',
  ];

  it('the caches (viewer Host) and the proxy (push Host) answer 404 for everything but image paths, reaching no upstream', async () => {
    for (const p of NOT_IMAGES) {
      const viaCache = await get(sin(), p, 'img-sin.test');
      assert.equal(viaCache.status, 404, `cache ${p}`);
      assert.equal(viaCache.cache, '', `cache ${p}: went upstream`);
      assert.equal((await get(s.topology.proxy.listen, p, 'cache-sin.test')).status, 404, `proxy ${p}`);
    }
    await until('cache access log', () => (accessLines(logOf('cache-sin-0')).some((l) => l.uri === '/') ? true : undefined));
    const upstreamed = accessLines(logOf('cache-sin-0')).filter((l) => NOT_IMAGES.includes(l.uri) && l.upstream !== '');
    assert.deepEqual(upstreamed, []);
    assert.equal(
      accessLines(logOf('origin')).filter((l) => NOT_IMAGES.some((p) => l.uri === p || l.uri === '/manifest.json')).length,
      0,
      'reached the origin front',
    );
  });

  it('the origin front and the origin service answer 404 for them too; metrics live on their own listener', async () => {
    for (const p of NOT_IMAGES) {
      assert.equal((await get(s.topology.origin.listen, p)).status, 404, `front ${p}`);
      assert.equal((await get(s.topology.origin.service!, p)).status, 404, `service ${p}`);
    }
    const m = await get(s.topology.origin.serviceMetrics!, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.body.toString(), /^hearth_origin_requests_total\{result="not_found"\} \d+/m);
    assert.equal((await get(s.topology.origin.serviceMetrics!, '/healthz')).status, 200);
  });

  it('an image path is served, at the front and through a cache', async () => {
    assert.equal((await get(s.topology.origin.listen, '/originals/77/7700.jpg')).status, 200);
    const first = await get(sin(), '/originals/77/7700.jpg', 'img-sin.test');
    assert.equal(first.status, 200);
    assert.equal(first.body.length, readFileSync(join(FIXTURES, 'aqua.jpg')).length);
  });

  it('an original whose .jxl cannot be trusted is a 500 with no-store, and the cache does not keep it', async () => {
    const a = await get(sin(), '/originals/77/7701.jpg', 'img-sin.test');
    assert.equal(a.status, 500);
    assert.equal(a.cacheControl, 'no-store');
    const b = await get(sin(), '/originals/77/7701.jpg', 'img-sin.test');
    assert.equal(b.status, 500);
    assert.notEqual(b.cache, 'HIT');
  });

  it('a link in the store that leads out of it is not followed, by the front or the service', async () => {
    const outside = join(mkdtempSync(join(tmpdir(), 'hearth-outside-')), 'secret.jpg');
    copyFileSync(join(FIXTURES, 'garden.jpg'), outside);
    const path = imagePath('7788', 'z');
    mkdirSync(dirname(storeFile(s.root, path)), { recursive: true });
    symlinkSync(outside, storeFile(s.root, path));
    assert.equal((await get(s.topology.origin.listen, path)).status, 404, 'front');
    assert.equal((await get(s.topology.origin.service!, path)).status, 404, 'service');
    // A link that stays inside the store is fine.
    const inside = imagePath('7789', 'z');
    mkdirSync(dirname(storeFile(s.root, inside)), { recursive: true });
    symlinkSync(storeFile(s.root, '/originals/77/7700.jpg'), storeFile(s.root, inside));
    assert.equal((await get(s.topology.origin.service!, inside)).status, 200, 'service, link within the store');
  });
});
