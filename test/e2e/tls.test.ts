/** TLS between the keep-alive proxy and a cache, end to end on real nginx. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { buildCorpus, findJpegs } from '../../corpus/build.js';
import { parseTopology } from '../../topology/topology.js';
import { Stack } from '../../stack/stack.js';
import { accessLog, FIXTURES, freePorts, freeUdpPort } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

describe('TLS from the proxy to the caches (real nginx, local CA)', function () {
  this.timeout(60000);
  let stack: Stack | undefined;

  after(async () => {
    await stack?.down();
  });

  it('pushes through the proxy over verified TLS, on kept-alive connections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-tls-'));
    const corpus = await buildCorpus({ sources: findJpegs(FIXTURES).slice(0, 1), out: join(dir, 'store'), idsPerPhoto: 2 });
    const [origin, proxy, cache, http] = await freePorts(4);
    const udp = await freeUdpPort();
    const t = parseTopology({
      origin: { listen: `127.0.0.1:${origin}`, root: join(dir, 'store') },
      proxy: { listen: `127.0.0.1:${proxy}`, tls: true, certDir: join(dir, 'certs') },
      colos: [{ name: 'sin', host: 'cache-sin.test', cidrs: ['10.1.0.0/16'], nodes: [`127.0.0.1:${cache}`] }],
      warmer: { udp: `127.0.0.1:${udp}`, http: `127.0.0.1:${http}` },
    });
    stack = new Stack(join(dir, 'state'), t);
    await stack.up();
    const paths = corpus.paths.slice(0, 6);
    const statuses: string[] = [];
    for (const path of [...paths, ...paths]) {
      const res = await request(`http://${t.proxy.listen}${path}`, { method: 'HEAD', headers: { host: 'cache-sin.test' }, reset: false });
      await res.body.dump();
      statuses.push(`${res.statusCode} ${String(res.headers['x-cache-status'])}`);
    }
    assert.deepEqual(statuses, [...paths.map(() => '200 MISS'), ...paths.map(() => '200 HIT')]);
    const cacheNode = stack.instances().find((n) => n.inst.role === 'cache')!;
    // nginx logs a request just after answering it: wait for the last line.
    const lines = (await until('12 access-log lines', () => {
      const l = accessLog(cacheNode.accessLog);
      return l.length >= 12 ? l : undefined;
    })) as unknown as { connection: number; tls_reused: string }[];
    assert.equal(lines.length, 12);
    assert.ok(
      lines.every((l) => l.tls_reused === '.' || l.tls_reused === 'r'),
      'requests arrived over TLS',
    );
    assert.ok(new Set(lines.map((l) => l.connection)).size <= 2, 'proxy → cache connections were kept alive');
  });
});
