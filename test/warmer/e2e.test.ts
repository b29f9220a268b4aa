/**
 * End to end: the real warmer process started through the CLI, real datagrams from
 * api-hook, pushes into a real HTTP server standing in for the keep-alive proxy.
 */
import assert from 'node:assert/strict';
import { CLASS_ACCEPT, createHinter, formatClass, type Hinter } from '@hearth/api-hook';
import { startRecordingServer, type RecordingServer } from '../helpers/recording-server.js';
import { RawSender } from '../helpers/raw-sender.js';
import { launchWarmer as startWarmer, type WarmerProcess } from '../helpers/warmer-process.js';
import { until } from '../helpers/until.js';

const KEY = 'an end-to-end test secret';
const p = (dir: number, id: number): string => `/photos/${dir}/${id}_b.jpg`;

// Both push clients, each with the hint socket it comes with: the native engine's, or node:dgram's.
for (const client of ['native', 'undici'] as const)
  describe(`warmer end to end (CLI process, real sockets, ${client} push client)`, function () {
    this.timeout(30000);
    let proxy: RecordingServer;
    let warmer: WarmerProcess;
    let hinter: Hinter;
    const failOnce = new Set([p(9, 1)]);

    before(async () => {
      proxy = await startRecordingServer((req) => {
        // One path fails the first time, to show a failed push does not count as done.
        if (req.url && failOnce.delete(req.url)) return { status: 503 };
        // A colo whose cache is down: the proxy answers 502 for it.
        if (req.headers.host === 'cache-dead.hearth.local') return { status: 502 };
        return { status: 200, headers: { 'x-cache-status': 'MISS' } };
      });
      warmer = await startWarmer({
        // Generous TTL: a loaded CI machine must not turn this test's hints stale.
        ttlMs: 5000,
        futureMs: 5000,
        keys: { k1: KEY, k0: 'a retiring older secret' },
        proxy: proxy.url,
        colos: [
          { name: 'sin', host: 'cache-sin.hearth.local', cidrs: ['10.1.0.0/16', '2001:db8:1::/48'] },
          { name: 'ams', host: 'cache-ams.hearth.local', cidrs: ['10.2.0.0/16'] },
          { name: 'dead', host: 'cache-dead.hearth.local', cidrs: ['10.9.0.0/16'] },
        ],
        push: { client, concurrency: 4, timeoutMs: 2000, breakerFailures: 3, breakerCooldownMs: 60000 },
      });
      hinter = createHinter({ warmers: [warmer.udp], keyId: 'k1', key: KEY });
    });
    after(async () => {
      await hinter?.close();
      await warmer?.stop();
      await proxy?.close();
    });

    const metric = async (name: string): Promise<number> => (await warmer.metrics()).get(name) ?? 0;
    const waitMetric = (name: string, atLeast: number) => until(`${name} >= ${atLeast}`, async () => ((await metric(name)) >= atLeast ? true : undefined));
    const pushesFor = (path: string) => proxy.requests.filter((r) => r.path === path);

    it("pushes each hinted path once, as HEAD with the colo's Host, then dedups", async () => {
      hinter.hint({ paths: [p(1, 1), p(1, 2)], viewer: '10.1.2.3' });
      hinter.hint({ paths: [p(1, 1)], viewer: '2001:db8:1::9' });
      hinter.hint({ paths: [p(1, 3)], colo: 'ams' });
      hinter.hint({ paths: [p(1, 3)], viewer: '10.2.9.9' });
      await waitMetric('hearth_warmer_paths_dropped_total{reason="duplicate"}', 2);
      await until('3 pushes', () => (proxy.requests.length >= 3 ? true : undefined));
      assert.deepEqual(proxy.requests.map((r) => [r.method, r.path, r.host]).sort(), [
        ['HEAD', p(1, 1), 'cache-sin.hearth.local'],
        ['HEAD', p(1, 2), 'cache-sin.hearth.local'],
        ['HEAD', p(1, 3), 'cache-ams.hearth.local'],
      ]);
      await waitMetric('hearth_warmer_pushes_total{colo="sin",outcome="miss"}', 2);
    });

    it("pushes the encoding the viewer's browser will ask for: the hint's class as the push's Accept, dedup per path and class; a hint without a class pushes the JPEG", async () => {
      const path = p(21, 1);
      const duplicates = await metric('hearth_warmer_paths_dropped_total{reason="duplicate"}');
      hinter.hint({ paths: [path], viewer: '10.1.2.3', accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8' });
      hinter.hint({ paths: [path], viewer: '10.1.2.4', accept: 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5' });
      hinter.hint({ paths: [path], viewer: '10.1.2.5' });
      // The same classes again: duplicates, each of its own class.
      hinter.hint({ paths: [path], viewer: '10.1.2.6', format: 'avif' });
      hinter.hint({ paths: [path], viewer: '10.1.2.7', format: 'jpeg' });
      await until('3 pushes', () => (pushesFor(path).length >= 3 ? true : undefined));
      await waitMetric('hearth_warmer_paths_dropped_total{reason="duplicate"}', duplicates + 2);
      assert.deepEqual(
        pushesFor(path)
          .map((r) => formatClass(r.accept))
          .sort(),
        ['avif', 'jpeg', 'webp'],
      );
      assert.deepEqual(
        pushesFor(path)
          .map((r) => r.accept)
          .sort(),
        [CLASS_ACCEPT.avif, CLASS_ACCEPT.jpeg, CLASS_ACCEPT.webp].sort(),
      );
    });

    it('drops stale, future, forged, unsigned, forbidden, unroutable and malformed hints, each under its reason, pushing nothing', async () => {
      const before = proxy.requests.length;
      const stale = createHinter({ warmers: [warmer.udp], keyId: 'k1', key: KEY, now: () => Date.now() - 60_000 });
      const future = createHinter({ warmers: [warmer.udp], keyId: 'k1', key: KEY, now: () => Date.now() + 60_000 });
      const forged = createHinter({ warmers: [warmer.udp], keyId: 'k1', key: 'not the real secret at all' });
      const unsigned = createHinter({ warmers: [warmer.udp] });
      stale.hint({ paths: [p(2, 1)], viewer: '10.1.0.1' });
      future.hint({ paths: [p(2, 2)], viewer: '10.1.0.1' });
      forged.hint({ paths: [p(2, 3)], viewer: '10.1.0.1' });
      unsigned.hint({ paths: [p(2, 4)], viewer: '10.1.0.1' });
      hinter.hint({ paths: ['/etc/passwd', '/photos/%2e%2e/x.jpg', 'http://evil/x.jpg'], viewer: '10.1.0.1' });
      hinter.hint({ paths: [p(2, 5)], viewer: '192.0.2.1' });
      hinter.hint({ paths: [p(2, 6)], colo: 'nowhere' });
      hinter.hint({ paths: [p(2, 7)], viewer: 'not-an-ip' });
      const raw = new RawSender(warmer.udp);
      await raw.send('this is not json');
      await raw.send('{"v":2,"ts":1,"viewer":"10.1.0.1","paths":["/photos/1/1_b.jpg"]}');
      await raw.close();
      await Promise.all([stale, future, forged, unsigned].map((h) => h.close()));

      await waitMetric('hearth_warmer_datagrams_dropped_total{reason="invalid"}', 3);
      const m = await warmer.metrics();
      const dg = (r: string) => m.get(`hearth_warmer_datagrams_dropped_total{reason="${r}"}`);
      assert.equal(dg('stale'), 1);
      assert.equal(dg('future'), 1);
      assert.equal(dg('signature'), 2);
      assert.equal(dg('no_colo'), 2);
      assert.equal(dg('invalid'), 3);
      assert.equal(m.get('hearth_warmer_paths_dropped_total{reason="forbidden"}'), 3);
      assert.equal(proxy.requests.length, before, 'none of these may cause a push');
    });

    it('accepts a second live key (rotation)', async () => {
      const old = createHinter({ warmers: [warmer.udp], keyId: 'k0', key: 'a retiring older secret' });
      old.hint({ paths: [p(3, 1)], viewer: '10.1.0.1' });
      await old.close();
      await until('rotated-key push', () => (pushesFor(p(3, 1)).length === 1 ? true : undefined));
    });

    it('a failed push does not count as done: a later hint pushes it again', async () => {
      hinter.hint({ paths: [p(9, 1)], viewer: '10.2.0.1' });
      await waitMetric('hearth_warmer_pushes_total{colo="ams",outcome="5xx"}', 1);
      hinter.hint({ paths: [p(9, 1)], viewer: '10.2.0.1' });
      await until('retry', () => (pushesFor(p(9, 1)).length === 2 ? true : undefined));
    });

    it('a dead colo opens its breaker: its paths are refused at once as colo_down, without touching dedup, and other colos go on', async () => {
      hinter.hint({ paths: [p(50, 1), p(50, 2), p(50, 3)], viewer: '10.9.0.1' });
      await waitMetric('hearth_warmer_breaker_open{colo="dead"}', 1);
      assert.equal(await metric('hearth_warmer_pushes_total{colo="dead",outcome="5xx"}'), 3);
      const dedupBefore = await metric('hearth_warmer_dedup_entries');
      const pushesBefore = proxy.requests.length;
      hinter.hint({ paths: Array.from({ length: 40 }, (_, i) => p(51, i)), viewer: '10.9.0.1' });
      hinter.hint({ paths: [p(52, 1)], viewer: '10.1.0.1' });
      await waitMetric('hearth_warmer_paths_dropped_total{reason="colo_down"}', 40);
      await until('the healthy colo pushed', () => (pushesFor(p(52, 1)).length === 1 ? true : undefined));
      assert.equal(proxy.requests.length, pushesBefore + 1, 'nothing was sent to the dead colo');
      assert.equal(await metric('hearth_warmer_dedup_entries'), dedupBefore + 1, 'only the healthy push was remembered');
    });

    it('keeps connections alive: far fewer connections than pushes', async () => {
      const before = proxy.requests.length;
      for (let page = 0; page < 10; page++) {
        hinter.hint({ paths: Array.from({ length: 20 }, (_, i) => p(100 + page, i)), viewer: page % 2 ? '10.1.0.1' : '10.2.0.1' });
        // Let each page's pushes run, as pages arrive over time in production.
        await until('page pushed', () => (proxy.requests.length >= before + 20 * (page + 1) ? true : undefined));
      }
      assert.equal(proxy.requests.length - before, 200);
      // Each colo has a pool of its own (a slow colo holds only its own connections): a few per colo.
      assert.ok(proxy.connections() <= 8, `${proxy.connections()} connections for ${proxy.requests.length} pushes`);
    });

    it('shows drops, pushes, ages and queue state in /metrics and answers /healthz', async () => {
      const m = await warmer.metrics();
      assert.equal(m.get(`hearth_warmer_push_client_info{client="${client}"}`), 1);
      assert.ok((m.get('hearth_warmer_push_connects_total{colo="sin"}') ?? 0) >= 1);
      assert.ok((m.get('hearth_warmer_push_connections{colo="sin"}') ?? 0) >= 1);
      for (const name of [
        'hearth_warmer_datagrams_received_total',
        'hearth_warmer_paths_received_total',
        'hearth_warmer_queue_depth',
        'hearth_warmer_hint_age_seconds_count',
        'hearth_warmer_push_duration_seconds_count{colo="sin"}',
        'hearth_warmer_pushes_in_flight{colo="sin"}',
        'hearth_warmer_dedup_entries',
      ]) {
        assert.ok(m.has(name), `missing ${name}`);
      }
      const health = (await (await fetch(`http://${warmer.http}/healthz`)).json()) as { status: string };
      assert.equal(health.status, 'ok');
      assert.equal((await fetch(`http://${warmer.http}/nope`)).status, 404);
    });

    it('stops gracefully on SIGTERM with exit code 0', async () => {
      assert.equal(await warmer.stop(), 0);
    });
  });
