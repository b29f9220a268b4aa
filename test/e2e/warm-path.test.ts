/**
 * The warm path on real nginx: hint → warmer → keep-alive proxy → regional cache →
 * origin, and the viewer's own request afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { createHinter, type Hinter } from '@hearth/api-hook';
import { scrape } from '../../common/prom-text.js';
import { HEARTH_CLI } from '../../common/cli-path.js';
import type { NginxInstance } from '../../proxy-config/nginx.js';
import type { StackStatus } from '../../stack/stack.js';
import { accessLog, testStack, type TestStack } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';
import { BROWSER_ACCEPTS } from '../helpers/browsers.js';

const run = promisify(execFile);

async function get(address: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`http://${address}${path}`, { headers, reset: true });
  await res.body.dump();
  return { status: res.statusCode, cache: String(res.headers['x-cache-status'] ?? '') };
}

describe('warm path on real nginx (shared local stack)', function () {
  this.timeout(60000);
  let s: TestStack;
  let hinter: Hinter;
  let next = 0;
  /** A store path no test has used yet. */
  const fresh = (): string => {
    const p = s.corpus.paths[next++];
    assert.ok(p, 'ran out of corpus paths');
    return p;
  };
  const node = (name: string): NginxInstance => s.stack.instances().find((n) => n.inst.name === name) as NginxInstance;
  const sinCache = () => s.topology.colos[0]!.nodes[0]!;
  const amsCache = () => s.topology.colos[1]!.nodes[0]!;
  const metric = async (name: string) => (await scrape(s.topology.warmer.http)).get(name) ?? 0;

  before(async () => {
    s = await testStack();
    hinter = createHinter({ warmers: [s.topology.warmer.udp] });
  });
  after(async () => {
    await hinter?.close();
  });

  it('status --json says what runs where, in the shape scripts rely on', async () => {
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'stack', 'status', '--json', '--state', s.stack.stateDir]);
    const st = JSON.parse(stdout) as StackStatus;
    assert.equal(st.warmer.udp, s.topology.warmer.udp);
    assert.equal(st.warmer.http, s.topology.warmer.http);
    assert.equal(st.proxy.address, s.topology.proxy.listen);
    assert.equal(st.origin.root, s.root);
    assert.deepEqual(
      st.colos.map((c: { name: string; host: string; cache: string[] }) => [c.name, c.host, c.cache]),
      [
        ['sin', 'img-sin.test', [sinCache()]],
        ['ams', 'img-ams.test', [amsCache()]],
      ],
    );
    assert.ok(st.warmer.running && st.proxy.running && st.origin.running && st.colos.every((c: { running: boolean[] }) => c.running.every(Boolean)));
  });

  it('up is idempotent', async () => {
    const pids = s.stack.instances().map((n) => n.pid());
    await s.stack.up();
    assert.deepEqual(
      s.stack.instances().map((n) => n.pid()),
      pids,
    );
  });

  it("a hint makes the viewer's first request a HIT at its colo, and only there", async () => {
    const path = fresh();
    // Other tests share this stack: wait for this push, not any.
    const before = await metric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}');
    hinter.hint({ paths: [path], viewer: '10.1.2.3' });
    await until('push done', async () => ((await metric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}')) >= before + 1 ? true : undefined));
    // The viewer's request: viewer-facing Host, an Accept of the JPEG class (as the hint's), a query string; same cache key.
    assert.deepEqual(await get(sinCache(), `${path}?utm=x`, { host: 'img-sin.test', accept: 'image/png,image/*;q=0.8,*/*;q=0.5' }), {
      status: 200,
      cache: 'HIT',
    });
    assert.deepEqual(await get(amsCache(), path, { host: 'img-ams.test' }), { status: 200, cache: 'MISS' });
  });

  it("a hint with the viewer's Accept warms that browser's encoding: its request is a HIT, another class's a MISS for its own", async () => {
    const path = fresh();
    const chromium = BROWSER_ACCEPTS.find((b) => b.browser.startsWith('Chromium'))!.accept!;
    const safari15 = BROWSER_ACCEPTS.find((b) => b.format === 'webp')!.accept!;
    const before = await metric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}');
    hinter.hint({ paths: [path], viewer: '10.1.2.3', accept: chromium });
    await until('push done', async () => ((await metric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}')) >= before + 1 ? true : undefined));
    const viewer = async (accept: string) => {
      const r = await request(`http://${sinCache()}${path}`, { headers: { host: 'img-sin.test', accept }, reset: true });
      await r.body.dump();
      return [r.statusCode, String(r.headers['x-cache-status']), String(r.headers['content-type'])];
    };
    assert.deepEqual(await viewer(chromium), [200, 'HIT', 'image/avif']);
    assert.deepEqual(await viewer(safari15), [200, 'MISS', 'image/webp']);
    assert.deepEqual(await viewer('*/*'), [200, 'MISS', 'image/jpeg']);
  });

  it('a v1 hint (no class, as every sender from before classes sends) still warms the JPEG', async () => {
    const path = fresh();
    const before = await metric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}');
    // Hand-made, as an old api-hook wrote it: no `fmt` member.
    const sock = createSocket('udp4');
    const [host, port] = s.topology.warmer.udp.split(':') as [string, string];
    await new Promise<void>((r, j) =>
      sock.send(JSON.stringify({ v: 1, ts: Date.now(), viewer: '10.1.9.9', paths: [path] }), Number(port), host, (e) => (e ? j(e) : r())),
    );
    sock.close();
    await until('push done', async () => ((await metric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}')) >= before + 1 ? true : undefined));
    assert.deepEqual(await get(sinCache(), path, { host: 'img-sin.test' }), { status: 200, cache: 'HIT' });
    assert.deepEqual(await get(sinCache(), path, { host: 'img-sin.test', accept: BROWSER_ACCEPTS[0]!.accept! }), { status: 200, cache: 'MISS' });
  });

  it('keeps connections alive: warmer → proxy and proxy → cache reuse far fewer connections than requests', async () => {
    const paths = Array.from({ length: 40 }, () => fresh());
    // Pages arrive over time: a burst of 10 uses up to 10 pooled connections, and
    // later bursts reuse them instead of opening more.
    const base = await metric('hearth_warmer_pushes_total{colo="ams",outcome="miss"}');
    for (let i = 0; i < paths.length; i += 10) {
      hinter.hint({ paths: paths.slice(i, i + 10), viewer: '10.2.0.9' });
      await until('pushes', async () => ((await metric('hearth_warmer_pushes_total{colo="ams",outcome="miss"}')) >= base + i + 10 ? true : undefined), 10000);
    }
    // nginx logs a request just after answering it: wait for the lines.
    const logged = (name: string) =>
      until(`${name} access log`, () => {
        const l = accessLog(node(name).accessLog).filter((x) => paths.includes(x.uri));
        return l.length >= 40 ? l : undefined;
      });
    const proxyLines = await logged('proxy');
    const cacheLines = await logged('cache-ams-0');
    assert.equal(proxyLines.length, 40);
    assert.equal(cacheLines.length, 40);
    assert.ok(cacheLines.every((l) => l.method === 'HEAD' && l.cache === 'MISS'));
    const conns = (ls: { connection: number }[]) => new Set(ls.map((l) => l.connection)).size;
    // Pools may hold connections from earlier tests on this stack; reuse shows as at
    // least two requests per connection on average, far from one each.
    assert.ok(conns(proxyLines) * 2 <= proxyLines.length, `warmer → proxy: ${conns(proxyLines)} connections for 40 pushes`);
    assert.ok(conns(cacheLines) * 2 <= cacheLines.length, `proxy → cache: ${conns(cacheLines)} connections for 40 pushes`);
    // nginx's own count agrees: connections served several requests. (Not "> 4": with ten
    // pooled connections and 40 pushes that held only when earlier tests had used them.)
    assert.ok(Math.max(...cacheLines.map((l) => l.connection_requests)) >= 2);
  });

  it('a push for a path the origin lacks leaves no long-lived error in the cache', async () => {
    const path = '/photos/9999/999999_z.jpg';
    const miss = await metric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}');
    const rejected = await metric('hearth_warmer_pushes_total{colo="sin",outcome="4xx"}');
    hinter.hint({ paths: [path], viewer: '10.1.0.1' });
    // The cache says MISS for it, but a 404 is never a warm: counted as 4xx.
    await until('404 push', async () => ((await metric('hearth_warmer_pushes_total{colo="sin",outcome="4xx"}')) >= rejected + 1 ? true : undefined));
    assert.equal(await metric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}'), miss, 'the 404 push was counted as a warm');
    assert.equal((await get(sinCache(), path)).status, 404, 'the 404 is cached for notFoundValid');
    // The image arrives at the origin (an upload); the cached 404 expires within notFoundValid (1 s here).
    mkdirSync(join(s.root, '/photos/9999'), { recursive: true });
    copyFileSync(join(s.root, s.corpus.paths[0] as string), join(s.root, path));
    await until('200 after the negative entry expired', async () => ((await get(sinCache(), path)).status === 200 ? true : undefined), 8000);
  });

  it('a ladder size the store lacks is made on the fly behind the origin front, and cached', async () => {
    // The fixture store holds b, z, n, m, q and s; c (800 px) comes from b.
    const stored = s.corpus.paths.find((p) => p.endsWith('_b.jpg')) as string;
    const path = stored.replace('_b.jpg', '_c.jpg');
    const first = await get(sinCache(), path, { host: 'img-sin.test' });
    assert.deepEqual(first, { status: 200, cache: 'MISS' });
    assert.deepEqual(await get(sinCache(), path, { host: 'img-sin.test' }), { status: 200, cache: 'HIT' });
    assert.equal((await get(sinCache(), stored.replace('_b.jpg', '_x.jpg'))).status, 404, 'outside the ladder');
  });

  it('a request with an unknown Host reaches no upstream', async () => {
    const path = fresh();
    const before = accessLog(node('cache-sin-0').accessLog).length + accessLog(node('cache-ams-0').accessLog).length;
    const r = await get(s.topology.proxy.listen, path, { host: 'evil.example' });
    assert.equal(r.status, 421);
    const r2 = await get(s.topology.proxy.listen, path, { host: '169.254.169.254' });
    assert.equal(r2.status, 421);
    const after = accessLog(node('cache-sin-0').accessLog).length + accessLog(node('cache-ams-0').accessLog).length;
    assert.equal(after, before);
  });

  it('one cache node down: its pushes fail fast and are counted, the other colo is unaffected, and it recovers', async () => {
    const ams = node('cache-ams-0');
    const failed = await metric('hearth_warmer_pushes_total{colo="ams",outcome="5xx"}');
    await ams.stop();
    try {
      hinter.hint({ paths: [fresh(), fresh()], viewer: '10.2.0.1' });
      await until('ams failures counted', async () =>
        (await metric('hearth_warmer_pushes_total{colo="ams",outcome="5xx"}')) >= failed + 2 ? true : undefined,
      );
      const sinPath = fresh();
      hinter.hint({ paths: [sinPath], viewer: '10.1.0.7' });
      await until('sin still warmed', async () => ((await get(sinCache(), sinPath)).cache === 'HIT' ? true : undefined));
    } finally {
      await ams.start();
    }
    // After the breaker's cooldown a probe succeeds and pushes flow again.
    const back = fresh();
    await until(
      'ams recovered',
      async () => {
        hinter.hint({ paths: [back], viewer: '10.2.0.1' });
        return (await get(amsCache(), back, { host: 'img-ams.test' })).cache === 'HIT' ? true : undefined;
      },
      10000,
    );
  });
});
