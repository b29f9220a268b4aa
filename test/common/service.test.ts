/** The one shape of every daemon: config loading, --print-config, /readyz, signals. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HEARTH_CLI, ValidationError, deepMerge, setPath } from '../../common/index.js';
import { loadResizeConfig } from '../../resize/index.js';
import { freePorts } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const COMMON = fileURLToPath(new URL('../../common/index.js', import.meta.url));

describe('the daemon scaffold', function () {
  this.timeout(30000);

  it('merges flags deep: one member overridden, its siblings kept', () => {
    assert.deepEqual(deepMerge({ kafka: { brokers: ['a:1'], groupId: 'g' }, jobs: 2 }, { kafka: { brokers: ['b:2'] } }), {
      kafka: { brokers: ['b:2'], groupId: 'g' },
      jobs: 2,
    });
    const o: Record<string, unknown> = {};
    setPath(o, 'http.port', 1);
    setPath(o, 'http.host', 'h');
    assert.deepEqual(o, { http: { port: 1, host: 'h' } });
  });

  it('names every bad field in one error, schema and cross-field alike, with the file it came from', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hearth-config-')), 'resize.json');
    // `backend: "gpu"` passes the schema and fails a cross-field rule; the rest fail the schema.
    writeFileSync(file, JSON.stringify({ jobs: 0, jpeg: { quality: 101 }, backend: 'gpu', surprise: 1 }));
    assert.throws(
      () => loadResizeConfig(file),
      (err: ValidationError) =>
        err instanceof ValidationError &&
        err.message.includes(file) &&
        ['jobs', 'jpeg.quality', 'surprise'].every((f) => err.problems.some((p) => p.startsWith(f))) &&
        err.problems.some((p) => p.startsWith('backend: "gpu" is not built yet')),
    );
    // Alone, the cross-field rule is the error.
    writeFileSync(file, JSON.stringify({ backend: 'gpu' }));
    assert.throws(
      () => loadResizeConfig(file),
      (err: ValidationError) => err.problems.length === 1 && err.problems[0]!.startsWith('backend: "gpu"'),
    );
  });

  it("names every daemon's own listener one way, --http [host:]port; the old spellings still work, with a warning", async function () {
    const daemons = [
      ['warmer'],
      ['race', '--logs', '/dev/null'],
      ['store', 'serve'],
      ['resize'],
      ['compress', 'perceptual'],
      ['compress', 'resizes'],
      ['dashboard'],
      ['takedown', 'worker'],
      ['origin'],
      ['taste-test'],
    ];
    const http = async (args: string[]) => {
      const { stdout, stderr } = await run(process.execPath, [HEARTH_CLI, ...args, '--print-config']);
      return { http: (JSON.parse(stdout) as { http: { host: string; port: number } }).http, stderr };
    };
    // 33 starts of the CLI, ~1.4 s of CPU each: two at a time, as many as there are cores here.
    this.timeout(240_000);
    const queue = [...daemons];
    await Promise.all(
      [0, 1].map(async () => {
        for (let d = queue.shift(); d; d = queue.shift()) {
          assert.deepEqual((await http([...d, '--http', '0.0.0.0:1234'])).http, { host: '0.0.0.0', port: 1234 }, d.join(' '));
          const { http: kept } = await http(d);
          assert.deepEqual((await http([...d, '--http', '1235'])).http, { ...kept, port: 1235 }, `${d.join(' ')}: a bare port keeps the host`);
        }
      }),
    );
    for (const old of ['--http-port', '--metrics-listen']) {
      const { http: h, stderr } = await http(['resize', old, old === '--http-port' ? '1236' : '127.0.0.2:1236']);
      assert.equal(h.port, 1236);
      assert.match(stderr, new RegExp(`${old} is now --http`));
    }
    await assert.rejects(run(process.execPath, [HEARTH_CLI, 'origin', '--http', 'nowhere', '--print-config']), /expected \[host:\]port/);
  });

  it('--print-config shows the file with the flags applied on top, deep', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hearth-config-')), 'resize.json');
    writeFileSync(file, JSON.stringify({ kafka: { groupId: 'mine', partitions: 3 }, store: '/srv/store' }));
    const { stdout } = await run(process.execPath, [
      HEARTH_CLI,
      'resize',
      '--config',
      file,
      '--brokers',
      'k1:9092,k2:9092',
      '--log-level',
      'warn',
      '--print-config',
    ]);
    const c = JSON.parse(stdout) as {
      kafka: { brokers: string[]; groupId: string; partitions: number };
      store: string;
      log: { level: string };
      http: { port: number };
    };
    assert.deepEqual(c.kafka, {
      brokers: ['k1:9092', 'k2:9092'],
      groupId: 'mine',
      sessionTimeoutMs: 30000,
      partitions: 3,
      maxAttempts: 5,
      stuckAfterSeconds: 120,
    });
    assert.equal(c.store, '/srv/store');
    assert.equal(c.log.level, 'warn');
    assert.equal(c.http.port, 9465);
  });

  it('a daemon answers /healthz and /readyz, and stops on SIGTERM with exit 0', async () => {
    const [listen, metrics] = await freePorts(2);
    const store = mkdtempSync(join(tmpdir(), 'hearth-origin-store-'));
    const child = spawn(
      process.execPath,
      [HEARTH_CLI, 'origin', '--listen', `127.0.0.1:${listen}`, '--http', `127.0.0.1:${metrics}`, '--store', store, '--log-level', 'info'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      const ready = await until('readyz', async () => {
        const r = await fetch(`http://127.0.0.1:${metrics}/readyz`).catch(() => undefined);
        return r?.status === 200 ? ((await r.json()) as { ready: boolean; checks: Record<string, unknown> }) : undefined;
      });
      assert.deepEqual(ready, { ready: true, checks: { store: true } });
      assert.equal((await fetch(`http://127.0.0.1:${metrics}/healthz`)).status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.match(out, /"msg":"origin: stopped"/);
  });

  it('a stop that outlasts the grace, or a second signal, exits 1 at once', async () => {
    const script = (graceMs: number) => `import { runService, createLogger } from ${JSON.stringify(COMMON)};
      await runService({ start: async () => {}, stop: () => new Promise(() => {}) }, { name: 'stuck', graceMs: ${graceMs}, log: createLogger('stuck') });
      setInterval(() => {}, 1000); // a daemon's listeners keep it alive
      process.stdout.write('started\\n');`;
    const startStuck = async (graceMs: number) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script(graceMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await until('started', () => (out.includes('started') ? true : undefined));
      return { child, out: () => out, exited: new Promise<number | null>((r) => child.once('exit', r)) };
    };
    const graceful = await startStuck(200);
    graceful.child.kill('SIGTERM');
    assert.equal(await graceful.exited, 1);
    assert.match(graceful.out(), /still stopping when the grace ran out/);

    const impatient = await startStuck(60_000);
    impatient.child.kill('SIGTERM');
    await until('stopping', () => (impatient.out().includes('stuck: stopping') ? true : undefined));
    impatient.child.kill('SIGINT');
    assert.equal(await impatient.exited, 1);
    assert.match(impatient.out(), /second signal, exiting now/);
  });
});
