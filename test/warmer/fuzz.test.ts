/**
 * Fuzz: a bounded run of random and mutated datagrams against the real warmer
 * process. It must stay up, keep its memory bounded, and still push the valid hints
 * sent in between.
 */
import assert from 'node:assert/strict';
import { computeSignature } from '@hearth/api-hook';
import { seededRandom as prng } from '../../common/random.js';
import { startRecordingServer, type RecordingServer } from '../helpers/recording-server.js';
import { RawSender } from '../helpers/raw-sender.js';
import { launchWarmer as startWarmer, type WarmerProcess } from '../helpers/warmer-process.js';
import { until } from '../helpers/until.js';

const KEY = 'fuzzing secret, long enough';
const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? 0x5eed);
const DATAGRAMS = 40000;
const VALID_EVERY = 50;

function signedHint(paths: string[], viewer: string): string {
  const prefix = `{"v":1,"ts":${Date.now()},"viewer":${JSON.stringify(viewer)},"paths":${JSON.stringify(paths)},"kid":"k1"`;
  return `${prefix},"sig":"${computeSignature(KEY, prefix)}"}`;
}

function generators(rnd: () => number) {
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const evilPaths = [
    '/photos/../../etc/passwd',
    '/photos/%2e%2e/%2e%2e/x.jpg',
    'http://169.254.169.254/latest',
    '//evil.example/a.jpg',
    '/photos/1/a.jpg\r\nHost: evil',
    '/photos/1/\u0000.jpg',
    '/photos/1/\u202e.jpg',
    '/photos/1/😀.jpg',
    '\\\\server\\share',
    `/photos/1/${'a'.repeat(1300)}.jpg`,
    '',
    ' ',
    '/photos/1/a.jpg?x=../../',
    'file:///etc/passwd',
  ];
  const wrongTypes = [null, true, 1, -1, 1e308, 'x', [], {}, [[[]]], { a: { b: {} } }];
  const base = (): Record<string, unknown> => ({ v: 1, ts: Date.now(), viewer: '10.1.0.1', paths: ['/photos/1/1_b.jpg'], kid: 'k1', sig: 'A'.repeat(43) });
  const mutate = (s: string): string => {
    const chars = [...s];
    for (let i = 0, n = 1 + int(8); i < n; i++) {
      const at = int(chars.length + 1);
      const op = int(4);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, String.fromCharCode(int(0x300)));
      else if (op === 2) chars.splice(at, 0, pick(['"', '{', '}', '[', ']', ',', ':', '\\', '\u0000', '\r\n', '..', '%2e']));
      else chars[at] = pick(['0', 'a', '"', '}', ' ']);
    }
    return chars.join('');
  };
  return [
    () => Buffer.from(Array.from({ length: int(1500) }, () => int(256))),
    () => mutate(signedHint([`/photos/${int(100)}/${int(1e6)}_b.jpg`], '10.1.0.1')),
    () => signedHint([`/photos/1/${int(1e6)}_b.jpg`], '10.1.0.1').slice(0, int(120)),
    () => JSON.stringify({ ...base(), paths: Array.from({ length: 65 + int(500) }, () => '/p') }),
    () => `{"v":1,"ts":1,"viewer":"1.2.3.4","paths":${'['.repeat(int(700))}${']'.repeat(int(700))}}`,
    () => JSON.stringify({ ...base(), [pick(['v', 'ts', 'viewer', 'colo', 'paths', 'kid', 'sig', '__proto__', 'constructor'])]: pick(wrongTypes) }),
    () => JSON.stringify({ ...base(), paths: [pick(evilPaths), pick(evilPaths)] }),
    () => signedHint([pick(evilPaths), `/photos/2/${int(1e6)}_b.jpg`], pick(['10.1.0.1', '::1', '999.1.1.1', 'localhost', '10.1.0.1\n'])),
    () => JSON.stringify({ ...base(), viewer: pick(['', '\u0000', '🙂', '1'.repeat(45), '::ffff:10.1.0.1%eth0']) }),
    () => Buffer.alloc(1401 + int(7000), int(256)),
    () => JSON.stringify(base()).replace('"v":1', `"v":${pick(['0', '2', '1.0', '"1"', '1e0', 'null'])}`),
  ];
}

describe('warmer fuzz (bounded, seeded)', function () {
  this.timeout(90000);
  let proxy: RecordingServer;
  let warmer: WarmerProcess;

  before(async () => {
    proxy = await startRecordingServer();
    warmer = await startWarmer({
      ttlMs: 10000,
      futureMs: 10000,
      keys: { k1: KEY },
      proxy: proxy.url,
      colos: [{ name: 'sin', host: 'cache-sin.hearth.local', cidrs: ['10.0.0.0/8'] }],
      log: { level: 'info', samplePerSecond: 5 },
    });
  });
  after(async () => {
    await warmer?.stop();
    await proxy?.close();
  });

  it(`survives ${DATAGRAMS} hostile datagrams with bounded memory, still pushing valid hints (seed ${SEED})`, async () => {
    const rnd = prng(SEED);
    const gens = generators(rnd);
    const raw = new RawSender(warmer.udp);
    const rss = async (): Promise<number> => (await warmer.metrics()).get('process_resident_memory_bytes') ?? 0;
    const rssBefore = await rss();
    const expected = new Set<string>();
    const deadline = Date.now() + 60_000;
    let sent = 0;
    for (; sent < DATAGRAMS && Date.now() < deadline; sent++) {
      if (sent % VALID_EVERY === 0) {
        const path = `/photos/7/${sent}_b.jpg`;
        expected.add(path);
        await raw.send(signedHint([path], '10.1.2.3'));
      } else {
        await raw.send((gens[Math.floor(rnd() * gens.length)] as () => Buffer | string)());
      }
      // Pace to what the warmer has read, so UDP loss cannot make this test flaky.
      if (sent % 500 === 499) {
        const target = sent + 1;
        await until(
          'warmer catching up',
          async () => ((await warmer.metrics()).get('hearth_warmer_datagrams_received_total')! >= target ? true : undefined),
          10000,
        );
      }
    }
    await raw.close();
    assert.equal(sent, DATAGRAMS, 'the run must finish within its time bound');
    await until('valid hints pushed', () => ([...expected].every((p) => proxy.requests.some((r) => r.path === p)) ? true : undefined), 10000);

    const m = await warmer.metrics();
    assert.equal(m.get('hearth_warmer_datagrams_received_total'), DATAGRAMS);
    assert.equal(warmer.child.exitCode, null, 'the warmer is still running');
    // Only allowed paths from configured colos were ever requested, and each once.
    const pushed = proxy.requests.map((r) => r.path);
    assert.ok(
      pushed.every((p) => /^\/photos\/[0-9]+\/[0-9A-Za-z_]+\.jpg$/.test(p)),
      'a forbidden path was pushed',
    );
    assert.ok(proxy.requests.every((r) => r.host === 'cache-sin.hearth.local'));
    assert.equal(new Set(pushed).size, pushed.length, 'a path was pushed twice');
    const growth = (await rss()) - rssBefore;
    assert.ok(growth < 96 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB`);
    // Logs are sampled: far fewer lines than hostile datagrams.
    assert.ok(warmer.log.length < DATAGRAMS / 10, `${warmer.log.length} log lines`);
    assert.ok(!warmer.log.some((l) => l.includes('169.254.169.254') || l.includes('etc/passwd')), 'raw datagram text reached a log line');
  });
});
