/**
 * `hearth deploy render`: each host of a topology as systemd units and configs. Every
 * daemon lands on exactly one host; Kafka's nodes agree on one cluster; systemd reads
 * every unit without a warning; and (as root) what is written runs: each unit's own
 * command lines, read back from its file, started on a test host of its own, serve the
 * corpus through a cache and warm it from a signed hint.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { createHinter } from '@hearth/api-hook';
import { HEARTH_HOME } from '../../common/index.js';
import { buildCorpus, findJpegs } from '../../corpus/index.js';
import { DEPLOY_DEFAULTS, renderHost, systemdArg, writeHost, type DeployOptions } from '../../deploy/index.js';
import { canMakeHosts, TestNetwork } from '../../netns/index.js';
import { defaultTopology, parseTopology, placements, type Topology } from '../../topology/index.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);

/** An Exec line split as systemd splits it (double quotes, C escapes, `%%`, `$$`). */
function execArgs(line: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.matchAll(re)) args.push((m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!).replace(/%%/g, '%').replace(/\$\$/g, '$'));
  return args;
}

const unitLines = (text: string, key: string): string[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

describe('hearth deploy render: a topology on real machines', function () {
  this.timeout(120_000);
  const spread = defaultTopology('/var/lib/hearth/corpus', { resizeWorkers: 2, kafkaNodes: 3, volumes: '/var/lib/hearth/volumes', hosts: true });
  const options = (host: string): DeployOptions => ({ host, ...DEPLOY_DEFAULTS });

  it('renders every daemon of the topology on exactly one host, each host a target of its own units', () => {
    const rendered = spread.hosts!.map((h) => renderHost(spread, options(h.name)));
    const units = rendered.flatMap((r) => r.units.map((u) => u.daemon));
    const daemons = placements(spread)
      .map((p) => p.daemon)
      .filter((d) => d !== 'ceph');
    assert.deepEqual([...units].sort(), [...daemons].sort(), 'each daemon once');
    for (const r of rendered)
      for (const u of r.units) assert.equal(placements(spread).find((p) => p.daemon === u.daemon)?.host, r.host, `${u.daemon} on ${r.host}`);
    const workers = rendered.find((r) => r.host === 'workers')!;
    assert.deepEqual(
      workers.units.map((u) => u.name),
      ['hearth-identity', 'hearth-resize-0', 'hearth-resize-1', 'hearth-takedown', 'hearth-perceptual'],
    );
    assert.deepEqual(
      rendered.find((r) => r.host === 'edge-2')!.units.map((u) => u.name),
      ['hearth-warmer-2'],
      'the second warmer on a host of its own',
    );
    const resize = JSON.parse(workers.files.find((f) => f.path === '/etc/hearth/resize-0/resize.json')!.content) as {
      store: string;
      kafka: { brokers: string[] };
    };
    assert.equal(resize.store, 'http://198.18.100.10:8084', 'the volumes on the origin host');
    assert.deepEqual(resize.kafka.brokers, ['198.18.100.14:9092', '198.18.100.15:9092', '198.18.100.16:9092']);
    assert.equal((resize as { variants?: unknown }).variants, undefined, "the resize tier's own default variants");
    // The topology's `pipeline.variants` is each resize worker's `variants.formats`.
    const avifOnly = defaultTopology('/var/lib/hearth/corpus', { resizeWorkers: 1, volumes: '/var/lib/hearth/volumes', hosts: true, variants: ['avif'] });
    const avifWorkers = renderHost(avifOnly, options('workers'));
    assert.deepEqual((JSON.parse(avifWorkers.files.find((f) => f.path === '/etc/hearth/resize-0/resize.json')!.content) as { variants: unknown }).variants, {
      formats: ['avif'],
    });
    assert.ok(
      workers.files.every((f) => f.mode === 0o600),
      'configs readable by their owner only',
    );
    assert.ok(
      workers.units.every((u) => u.exec[0] === '/usr/bin/node' && u.exec[1] === '/opt/hearth/dist/cli/hearth.js'),
      'the CLI where Hearth is installed',
    );
  });

  it("renders Kafka's nodes on three hosts as one cluster: one id, every voter, each node its own id and addresses", () => {
    const nodes = [1, 2, 3].map((i) => renderHost(spread, options(`kafka-${i}`)));
    const props = nodes.map((r) =>
      Object.fromEntries(
        r.files
          .find((f) => f.path.endsWith('server.properties'))!
          .content.split('\n')
          .filter((l) => l.includes('='))
          .map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]),
      ),
    );
    const ids = nodes.map((r) => r.units[0]!.pre[1]![r.units[0]!.pre[1]!.indexOf('-t') + 1]);
    assert.equal(new Set(ids).size, 1, 'one cluster id on every host');
    assert.ok(nodes[0]!.units[0]!.pre[1]!.includes('--ignore-formatted'), 'formatting again keeps the data');
    assert.deepEqual(
      props.map((p) => p['node.id']),
      ['1', '2', '3'],
    );
    assert.ok(props.every((p) => p['controller.quorum.voters'] === '1@198.18.100.14:9093,2@198.18.100.15:9093,3@198.18.100.16:9093'));
    assert.deepEqual(
      props.map((p) => p['advertised.listeners']),
      [14, 15, 16].map((n) => `PLAINTEXT://198.18.100.${n}:9092`),
    );
    assert.ok(props.every((p) => p['default.replication.factor'] === '3' && p['min.insync.replicas'] === '2'));
    assert.ok(nodes[0]!.units[0]!.exec.join(' ').includes('/opt/hearth/.cache/kafka/libs/*'), "Kafka's jars where Hearth is installed");
  });

  it('says what a host needs from another: logs read across hosts; nothing for a purger beside its caches', () => {
    const watch = renderHost(spread, options('watch'));
    assert.ok(
      watch.notes.some((n) => n.startsWith('cache-logs reads the files of cache-sin-0 (on cache-sin), cache-ams-0 (on cache-ams)')),
      watch.notes.join('\n'),
    );
    assert.deepEqual(renderHost(spread, options('cache-sin')).notes, []);
    const onCeph = defaultTopology('/var/lib/hearth/corpus', { resizeWorkers: 1, ceph: '/var/lib/hearth/ceph', hosts: true });
    assert.deepEqual(renderHost(onCeph, options('osd-2')).notes, [
      "OSD 2 of the Ceph cluster goes on this host (deploy it with Ceph's own tooling, as its own CRUSH host).",
    ]);
    assert.ok(
      renderHost(onCeph, options('workers')).notes.some((n) => n.includes('/var/lib/hearth/ceph/s3-credentials.json')),
      'where the workers read their S3 keys',
    );
  });

  it('refuses a host the topology does not name, a topology without hosts, and a daemon split over two hosts', () => {
    assert.throws(() => renderHost(spread, options('nowhere')), /no host "nowhere" in the topology \(hosts: origin, cache-sin/);
    assert.throws(() => renderHost(defaultTopology('/srv/corpus'), options('origin')), /it names no hosts/);
    const raw = JSON.parse(JSON.stringify(spread)) as Topology;
    raw.warmer.http = '198.18.100.10:9464';
    raw.pipeline!.race = '127.0.0.1:9462';
    assert.throws(
      () => parseTopology(raw),
      (err: Error) =>
        /warmer: its addresses are on edge and origin/.test(err.message) &&
        /race: 127\.0\.0\.1:9462 on no host of hosts/.test(err.message) &&
        /hosts\[0\]\.address/.test(err.message) === false,
    );
    assert.throws(
      () =>
        parseTopology({
          ...raw,
          warmer: spread.warmer,
          pipeline: spread.pipeline,
          hosts: [
            { name: 'a', address: '127.0.0.1' },
            { name: 'a', address: '198.18.100.10' },
          ],
        }),
      (err: Error) =>
        /hosts\[0\]\.address: 127\.0\.0\.1 cannot be reached from another host/.test(err.message) &&
        /hosts\[1\]\.name: duplicate host name "a"/.test(err.message),
    );
  });

  it('quotes what systemd would split or expand, and systemd reads every unit without a warning', async function () {
    assert.equal(systemdArg('--delay-ms'), '--delay-ms');
    assert.equal(systemdArg('a b'), '"a b"');
    assert.equal(systemdArg('50%'), '50%%');
    assert.equal(systemdArg('$HOME'), '$$HOME');
    assert.equal(systemdArg('say "hi"'), '"say \\"hi\\""');
    assert.deepEqual(execArgs(['x', 'a b', '50%', '$HOME', 'say "hi"'].map(systemdArg).join(' ')), ['x', 'a b', '50%', '$HOME', 'say "hi"']);
    const analyze = await run('systemd-analyze', ['--version']).then(
      () => true,
      () => false,
    );
    if (!analyze) this.skip();
    const out = mkdtempSync(join(tmpdir(), 'hearth-deploy-'));
    try {
      for (const h of spread.hosts!) {
        writeHost(renderHost(spread, options(h.name)), options(h.name), join(out, h.name));
        const dir = join(out, h.name, 'root', 'etc', 'systemd', 'system');
        const files = readdirSync(dir).map((f) => join(dir, f));
        const { stdout, stderr } = await run('systemd-analyze', ['verify', '--man=no', ...files]);
        // An unknown key, a bad line or a program that is not there is a line of its own.
        assert.equal(`${stdout}${stderr}`.trim(), '', `${h.name}'s units`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  describe('what it writes runs (every host a test host; root)', () => {
    const net = new TestNetwork({
      tag: 'dp',
      subnet: 4,
      hosts: [
        { name: 'origin', address: '198.18.4.10' },
        { name: 'cache-sin', address: '198.18.4.11' },
        { name: 'edge', address: '198.18.4.12' },
      ],
    });
    const KEY = 'a deployed secret';
    let dir: string;
    let paths: string[];
    let topology: Topology;
    const pids: number[] = [];

    before(async function () {
      if (!(await canMakeHosts())) this.skip();
      dir = mkdtempSync(join(tmpdir(), 'hearth-deployed-'));
      const root = join(dir, 'corpus');
      paths = (await buildCorpus({ sources: findJpegs(FIXTURES), out: root, idsPerPhoto: 2 })).paths;
      topology = parseTopology({
        hosts: [...net.hosts.values()].map((h) => ({ name: h.name, address: h.address })),
        origin: { listen: '198.18.4.10:8081', root, service: '198.18.4.10:8083', serviceMetrics: '198.18.4.10:9468' },
        proxy: { listen: '198.18.4.12:8080' },
        colos: [{ name: 'sin', host: 'cache-sin.test', viewerHosts: ['img-sin.test'], cidrs: ['10.1.0.0/16'], nodes: ['198.18.4.11:8101'] }],
        warmer: { udp: '198.18.4.12:4950', http: '198.18.4.12:9464', settings: { keys: { k1: KEY }, ttlMs: 10_000, futureMs: 10_000 } },
      });
      await net.up();
    });

    after(async () => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await net.down();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("each host's units, as written, start on their host: the cache serves the corpus byte-exact, and a signed hint warms it", async () => {
      const o = (host: string): DeployOptions => ({
        host,
        prefix: HEARTH_HOME,
        etc: join(dir, 'etc'),
        state: join(dir, 'state'),
        user: 'root',
        node: process.execPath,
      });
      for (const h of topology.hosts!) {
        const out = join(dir, 'out', h.name);
        const r = renderHost(topology, o(h.name));
        writeHost(r, o(h.name), out);
        // What install.sh does, without systemd: the files in place, then each unit's own lines run in order.
        cpSync(join(out, 'root', dir), dir, { recursive: true });
        const units = join(out, 'root', 'etc', 'systemd', 'system');
        for (const u of r.units) {
          const text = readFileSync(join(units, `${u.name}.service`), 'utf8');
          const wrap = ['ip', 'netns', 'exec', net.host(h.name).ns];
          for (const pre of unitLines(text, 'ExecStartPre')) await run(wrap[0]!, [...wrap.slice(1), ...execArgs(pre)]);
          const [cmd, ...args] = [...wrap, ...execArgs(unitLines(text, 'ExecStart')[0]!)] as [string, ...string[]];
          if (unitLines(text, 'Type')[0] === 'forking') {
            await run(cmd, args);
            pids.push(Number(readFileSync(unitLines(text, 'PIDFile')[0]!, 'utf8')));
          } else {
            const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
            child.unref();
            pids.push(child.pid!);
          }
        }
      }
      await until(
        'the warmer up on its host',
        () =>
          request('http://198.18.4.12:9464/healthz').then(
            (r) => r.statusCode === 200 || undefined,
            () => undefined,
          ),
        30_000,
      );
      await until(
        'the origin service up on its host',
        () =>
          request('http://198.18.4.10:9468/healthz').then(
            (r) => r.statusCode === 200 || undefined,
            () => undefined,
          ),
        30_000,
      );
      const get = async (path: string) => {
        const res = await request(`http://198.18.4.11:8101${path}`, { headers: { host: 'img-sin.test' }, reset: true });
        return { status: res.statusCode, cache: String(res.headers['x-cache-status']), body: Buffer.from(await res.body.arrayBuffer()) };
      };
      const [viewed, warmed] = [paths[0]!, paths[1]!];
      const first = await get(viewed);
      assert.equal(first.status, 200);
      assert.ok(first.body.equals(readFileSync(join(dir, 'corpus', viewed))), 'byte-exact from the origin host');
      assert.equal((await get(viewed)).cache, 'HIT');
      const hinter = createHinter({ warmers: [topology.warmer.udp], keyId: 'k1', key: KEY });
      try {
        hinter.hint({ paths: [warmed], viewer: '10.1.2.3' });
        const accessLog = join(dir, 'state', 'nginx', 'cache-sin-0', 'logs', 'access.log');
        await until(
          'the push reached the cache host',
          () => (existsSync(accessLog) && readFileSync(accessLog, 'utf8').includes(warmed) ? true : undefined),
          20_000,
        );
      } finally {
        await hinter.close();
      }
      assert.deepEqual(((r) => [r.status, r.cache])(await get(warmed)), [200, 'HIT'], "the viewer's first request a hit");
    });
  });
});
