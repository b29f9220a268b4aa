/**
 * Format negotiation that no cache can get wrong, on a real nginx cache node in front of
 * the real origin service: each browser's `Accept` gets its class's encoding, the cache
 * keys by path and class, and a client of one class never receives another's bytes,
 * whatever order the requests come in (thumbor issue 1746 served a cached AVIF to
 * Safari 15 because its storage keyed only part of the negotiation).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { request } from 'undici';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, createLogger, listen } from '../../common/index.js';
import { launchChromium } from '../helpers/browser.js';
import { seededRandom } from '../../common/random.js';
import { CLASS_ACCEPT, FORMAT_CLASSES, FORMAT_MEDIA_TYPES, cacheKey, formatClass, imagePath, originalPath, type FormatClass } from '../../image/index.js';
import { OriginServer } from '../../origin/index.js';
import { CACHE_LEVELS, NginxInstance, renderCache } from '../../proxy-config/index.js';
import { storeFile } from '../../store/index.js';
import { cacheFile } from '../../takedown/purger.js';
import { parseTopology } from '../../topology/index.js';
import { BROWSER_ACCEPTS } from '../helpers/browsers.js';
import { FIXTURES, freePorts } from '../helpers/test-stack.js';

const ENCODE = { quality: 85, progressive: true, chromaSubsampling: '4:2:0' as const };
const PHOTOS = ['ladybird.jpg', 'garden.jpg', 'aqua.jpg'];

/** What the bytes are, by their signature: never by what the answer says they are. */
function sniff(b: Buffer): FormatClass | 'other' {
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  if (b.subarray(4, 12).toString('latin1') === 'ftypavif') return 'avif';
  return 'other';
}

describe('format negotiation through a real cache (nginx node, origin service)', function () {
  this.timeout(120_000);
  let dir: string;
  let origin: OriginServer;
  let node: NginxInstance;
  const ids = Array.from({ length: 8 }, (_, i) => String(880_000_100 + i));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-negotiation-'));
    const root = join(dir, 'store');
    ids.forEach((id, i) => {
      mkdirSync(join(storeFile(root, originalPath(id)), '..'), { recursive: true });
      copyFileSync(join(FIXTURES, PHOTOS[i % PHOTOS.length]!), storeFile(root, originalPath(id)));
    });
    const [port, nodePort] = await freePorts(2);
    origin = new OriginServer({
      store: root,
      host: '127.0.0.1',
      port: port!,
      storeDerived: true,
      maxConcurrent: 2,
      maxQueue: 64,
      encode: ENCODE,
      logger: createLogger('origin', 'silent'),
    });
    await origin.start();
    const t = parseTopology({
      origin: { listen: `127.0.0.1:${port}`, root },
      colos: [{ name: 'neg', host: 'cache-neg.test', nodes: [`127.0.0.1:${nodePort}`] }],
    });
    node = new NginxInstance(renderCache(t, t.colos[0]!, 0, join(dir, 'cache-neg-0')));
    node.write();
    await node.test();
    await node.start();
  });

  after(async () => {
    await node?.stop();
    await origin?.stop();
  });

  const view = async (path: string, accept: string | undefined) => {
    const r = await request(`http://${node.inst.listen}${path}`, { headers: { host: 'img.test', ...(accept === undefined ? {} : { accept }) } });
    const body = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, type: String(r.headers['content-type']), vary: String(r.headers.vary), cache: String(r.headers['x-cache-status']), body };
  };

  it("gives each browser its class's encoding, says so in Content-Type and Vary, and makes every encoding of a size from the same resize", async () => {
    const path = imagePath(ids[0]!, 'z');
    const dims = new Map<FormatClass, string>();
    for (const b of BROWSER_ACCEPTS) {
      const r = await view(path, b.accept);
      assert.equal(r.status, 200, b.browser);
      assert.equal(sniff(r.body), b.format, `${b.browser}: the bytes`);
      assert.equal(r.type, FORMAT_MEDIA_TYPES[b.format], `${b.browser}: Content-Type`);
      assert.equal(r.vary, 'Accept', `${b.browser}: Vary`);
      const m = await sharp(r.body).metadata();
      dims.set(b.format, `${m.width}x${m.height}`);
    }
    assert.deepEqual(new Set(dims.keys()), new Set(FORMAT_CLASSES));
    assert.equal(new Set(dims.values()).size, 1, `one size in every encoding: ${[...dims].join(', ')}`);
  });

  it("never gives a client another class's bytes, in any order of first requests (thumbor 1746), and serves each class its own cached object", async () => {
    const clients = (['avif', 'webp', 'jpeg'] as const).map((f) => BROWSER_ACCEPTS.find((b) => b.format === f && b.accept !== undefined)!);
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const [n, order] of orders.entries()) {
      const path = imagePath(ids[1 + n]!, 'n');
      for (const round of ['MISS', 'HIT']) {
        for (const i of order) {
          const c = clients[i]!;
          const r = await view(path, c.accept);
          assert.equal(sniff(r.body), c.format, `order ${order.join('')}, ${c.browser}, ${round} round`);
          assert.equal(r.type, FORMAT_MEDIA_TYPES[c.format]);
          assert.equal(r.cache, round, `order ${order.join('')}, ${c.browser}`);
        }
      }
    }
  });

  it('keys each class where the purger looks for it: removing that file (a purge) makes that class, and only it, a MISS', async () => {
    const path = imagePath(ids[7]!, 'm');
    const cacheDir = join(dir, 'cache-neg-0', 'cache');
    for (const f of FORMAT_CLASSES) await view(path, CLASS_ACCEPT[f]);
    for (const f of FORMAT_CLASSES) assert.ok(existsSync(cacheFile(cacheDir, CACHE_LEVELS, cacheKey(path, f))), `${f} cached under ${cacheKey(path, f)}`);
    unlinkSync(cacheFile(cacheDir, CACHE_LEVELS, cacheKey(path, 'webp')));
    const after = Object.fromEntries(await Promise.all(FORMAT_CLASSES.map(async (f) => [f, (await view(path, CLASS_ACCEPT[f])).cache] as const)));
    assert.deepEqual(after, { avif: 'HIT', webp: 'MISS', jpeg: 'HIT' });
  });

  it("headless Chromium's own image requests get AVIF, decoded and shown; Safari 15's Accept gets WebP", async () => {
    const paths = [imagePath(ids[4]!, 'z'), imagePath(ids[5]!, 'd')];
    const page = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html>${paths.map((p) => `<img src="http://${node.inst.listen}${p}">`).join('')}`);
    });
    await listen(page, 0, '127.0.0.1');
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      const types = new Map<string, string>();
      tab.on('response', (r) => {
        const u = new URL(r.url());
        if (paths.includes(u.pathname)) types.set(u.pathname, r.headers()['content-type'] ?? '');
      });
      await tab.goto(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`);
      await tab.waitForFunction(() => [...document.images].every((i) => i.complete), undefined, { timeout: 30_000 });
      // Shown: each decoded to its real size (a failed decode leaves naturalWidth 0).
      const widths = await tab.$$eval('img', (imgs) => imgs.map((i) => i.naturalWidth));
      assert.deepEqual(Object.fromEntries(types), Object.fromEntries(paths.map((p) => [p, 'image/avif'])));
      assert.ok(
        widths.every((w) => w > 0),
        `decoded widths ${widths.join(', ')}`,
      );
    } finally {
      await browser.close();
      await closeServer(page);
    }
    const safari15 = BROWSER_ACCEPTS.find((b) => b.format === 'webp')!.accept;
    for (const p of paths) assert.equal(sniff((await view(p, safari15)).body), 'webp');
  });

  const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? 0x9e90);
  it(`decides the class as formatClass does, for 300 generated Accept headers (seed ${SEED})`, async () => {
    const path = imagePath(ids[0]!, 'z');
    const rnd = seededRandom(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const types = ['image/avif', 'image/webp', 'image/jpeg', 'image/png', 'image/*', '*/*', 'IMAGE/AVIF', 'image/avif-x', 'text/html'];
    const qs = ['', ';q=0', ';q=0.5', ' ; q = 0.0', ';level=1;q=0', ';q=0.01'];
    for (let i = 0; i < 300; i++) {
      const accept = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => `${pick(types)}${pick(qs)}`).join(rnd() < 0.5 ? ',' : ', ');
      const r = await view(path, accept);
      assert.equal(sniff(r.body), formatClass(accept), `Accept: ${accept} (seed ${SEED})`);
    }
  });
});
