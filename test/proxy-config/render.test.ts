import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from '../../common/schema.js';
import { ensureCerts } from '../../proxy-config/certs.js';
import { NginxInstance } from '../../proxy-config/nginx.js';
import { renderAll } from '../../proxy-config/render.js';
import { defaultTopology, kafkaBrokers, parseTopology, storeSpec, warmerConfigFor } from '../../topology/topology.js';
import { parseS3Spec } from '../../store/index.js';
import { scrapeJobsFor } from '../../monitoring/index.js';
import { changesBeyondAdditions } from '../../stack/stack.js';
import { parseWarmerConfig } from '../../warmer/config.js';
import { HEARTH_CLI } from '../../common/cli-path.js';

const run = promisify(execFile);
const dir = (): string => mkdtempSync(join(tmpdir(), 'hearth-pc-'));

const base = {
  origin: { listen: '127.0.0.1:18081', root: '/srv/store' },
  colos: [{ name: 'sin', host: 'cache-sin.example', nodes: ['127.0.0.1:18101'] }],
};

async function renderAndTest(raw: unknown): Promise<string[]> {
  const out = dir();
  const names: string[] = [];
  for (const inst of renderAll(parseTopology(raw), out)) {
    const n = new NginxInstance(inst);
    n.write();
    await n.test();
    names.push(inst.name);
  }
  return names;
}

describe('proxy-config: render and nginx -t', function () {
  this.timeout(30000);

  it('the default local stack', async () => {
    assert.deepEqual(await renderAndTest(defaultTopology('/srv/store')), ['origin', 'cache-sin-0', 'cache-ams-0', 'proxy']);
  });

  it('several nodes per colo, several colos, IPv6 listen', async () => {
    const names = await renderAndTest({
      ...base,
      proxy: { listen: '[::1]:18080' },
      colos: [
        { name: 'sin', host: 'cache-sin.example', nodes: ['127.0.0.1:18101', '127.0.0.1:18102', '127.0.0.1:18103'] },
        {
          name: 'ams',
          host: 'cache-ams.example',
          viewerHosts: ['img-ams.example'],
          nodes: ['127.0.0.1:18104'],
          cache: { maxSize: '200m', inactive: '1d', notFoundValid: '5s' },
        },
        { name: 'nyc', host: 'cache-nyc.example', nodes: ['127.0.0.1:18105'] },
      ],
    });
    assert.equal(names.length, 7);
  });

  it('TLS from the proxy to the caches, with a local CA', async () => {
    const certDir = join(dir(), 'certs');
    const t = parseTopology({ ...base, proxy: { tls: true, certDir } });
    await ensureCerts(t, certDir);
    const out = dir();
    const rendered = renderAll(t, out);
    for (const inst of rendered) {
      const n = new NginxInstance(inst);
      n.write();
      await n.test();
    }
    const proxy = rendered.find((r) => r.role === 'proxy')!.config;
    assert.match(proxy, /proxy_pass https:\/\/\$colo_upstream/);
    assert.match(proxy, /proxy_ssl_session_reuse on/);
    assert.match(rendered.find((r) => r.role === 'cache')!.config, /listen 127\.0\.0\.1:18101 ssl/);
  });

  it('renders the cache key contract and bounded negative caching', () => {
    const cache = renderAll(parseTopology(base), dir()).find((r) => r.role === 'cache')!.config;
    assert.match(cache, /proxy_cache_key \$uri\$hearth_key_class;/);
    assert.match(cache, /proxy_ignore_headers Vary;/);
    assert.match(cache, /proxy_set_header Accept \$hearth_accept;/);
    assert.match(cache, /add_header Vary Accept always;/);
    assert.match(cache, /proxy_cache_valid 404 10s;/);
    assert.match(cache, /proxy_cache_convert_head on;/);
    assert.match(cache, /proxy_cache_lock on;/);
  });

  it('derives a valid warmer config from the topology', () => {
    const t = parseTopology({
      ...base,
      colos: [{ ...base.colos[0], cidrs: ['10.0.0.0/8'] }],
      warmer: { settings: { ttlMs: 80, keys: { k1: 'a long enough secret' } } },
    });
    const c = parseWarmerConfig(warmerConfigFor(t));
    assert.equal(c.proxy, 'http://127.0.0.1:8080');
    assert.equal(c.ttlMs, 80);
    assert.deepEqual(c.colos, [{ name: 'sin', host: 'cache-sin.example', cidrs: ['10.0.0.0/8'] }]);
  });

  it('a Kafka cluster and a Ceph store: every client gets every node, every tier the bucket, Prometheus the manager', () => {
    const t = defaultTopology('/srv/store', { resizeWorkers: 1, kafkaNodes: 3, ceph: '/srv/ceph' });
    assert.deepEqual(kafkaBrokers(t), ['127.0.0.1:9092', '127.0.0.1:9094', '127.0.0.1:9096']);
    assert.deepEqual(parseWarmerConfig(warmerConfigFor(t)).quarantine?.brokers, kafkaBrokers(t));
    assert.equal(storeSpec(t), 's3+http://127.0.0.1:7480/hearth?credentials=%2Fsrv%2Fceph%2Fs3-credentials.json');
    assert.deepEqual(parseS3Spec(storeSpec(t)), {
      bucket: 'hearth',
      endpoint: 'http://127.0.0.1:7480',
      region: process.env.AWS_REGION ?? 'us-east-1',
      credentials: '/srv/ceph/s3-credentials.json',
    });
    assert.deepEqual(scrapeJobsFor(t).find((j) => j.job === 'ceph')?.targets, ['127.0.0.1:9283']);
    assert.deepEqual(kafkaBrokers(defaultTopology('/srv/store', { resizeWorkers: 1 })), ['127.0.0.1:9092']);
  });

  it('bad topologies give one clear error naming each field', () => {
    const problems = (raw: unknown): string => {
      try {
        parseTopology(raw);
      } catch (err) {
        assert.ok(err instanceof ValidationError);
        return err.problems.join('\n');
      }
      assert.fail('expected an error');
    };
    assert.match(problems({ colos: [] }), /^origin: /m);
    assert.match(problems({ ...base, colos: [{ name: 'sin', host: 'Not A Host', nodes: [] }] }), /colos\[0\]\.host: .*\n?.*colos\[0\]\.nodes:/s);
    const p = problems({
      ...base,
      origin: { listen: '127.0.0.1:18081', root: 'relative/dir' },
      proxy: { listen: '127.0.0.1:18101', tls: true },
      colos: [
        { name: 'sin', host: 'a.example', nodes: ['127.0.0.1:18101'], cidrs: ['10.0.0.0/99'] },
        { name: 'sin', host: 'a.example', nodes: ['127.0.0.1:18102'] },
      ],
      defaultColo: 'nyc',
      kafka: { listen: '127.0.0.1:19092', controller: '127.0.0.1:19093', peers: [{ listen: '127.0.0.1:19092', controller: '127.0.0.1:19095' }] },
      store: { dir: '/srv/volumes' },
      ceph: { dir: 'relative', s3: '127.0.0.2:7480' },
    });
    for (const f of [
      'kafka\\.peers',
      'kafka\\.peers\\[0\\]\\.listen',
      'ceph',
      'ceph\\.dir',
      'ceph\\.mon, ceph\\.s3, ceph\\.metrics',
      'origin\\.root',
      'colos\\[0\\]\\.nodes\\[0\\]',
      'colos\\[0\\]\\.cidrs\\[0\\]',
      'colos\\[1\\]\\.name',
      'colos\\[1\\]\\.host',
      'defaultColo',
      'proxy\\.certDir',
    ]) {
      assert.match(p, new RegExp(`^${f}:`, 'm'));
    }
  });

  it('the CLI renders, checks, and exits 2 on a bad file', async () => {
    const d = dir();
    writeFileSync(join(d, 'ok.json'), JSON.stringify(base));
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'proxy-config', 'render', '-t', join(d, 'ok.json'), '-o', join(d, 'out')]);
    assert.match(stdout, /^proxy\t127\.0\.0\.1:8080\t/m);
    writeFileSync(join(d, 'bad.json'), JSON.stringify({ ...base, colos: [{ name: 'X', host: 'h', nodes: ['x'] }] }));
    await assert.rejects(
      run(process.execPath, [HEARTH_CLI, 'proxy-config', 'render', '-t', join(d, 'bad.json'), '-o', join(d, 'out2')]),
      (e: { code: number; stderr: string }) => e.code === 2 && /colos\[0\]\.name/.test(e.stderr),
    );
  });
});

describe('stack up on a running stack', () => {
  const base = defaultTopology('/srv/store');
  it('may add a Kafka broker: nothing that runs changes', () => {
    assert.deepEqual(changesBeyondAdditions(base, defaultTopology('/srv/store', { kafka: true })), []);
  });
  it('refuses what would change what runs, naming it', () => {
    assert.deepEqual(changesBeyondAdditions(base, defaultTopology('/srv/store', { originDelayMs: 150 })), ['origin']);
    assert.deepEqual(changesBeyondAdditions(defaultTopology('/srv/store', { kafka: true }), base), ['kafka'], 'removing the broker is a change');
  });
});
