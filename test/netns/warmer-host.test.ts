/**
 * Two warmers, each on a test host of its own (a network namespace with its own
 * address), behind api-hook's rendezvous hashing; the keep-alive proxy stands on the
 * machine's side of the bridge. One host dies whole: the other warmer keeps pushing its
 * share, and the hints for the dead one are lost and counted by the sender, which never
 * retries them. Needs root (CI has it); skips otherwise.
 */
import assert from 'node:assert/strict';
import { createHinter, Rendezvous, type Hinter } from '@hearth/api-hook';
import { canMakeHosts, TestNetwork } from '../../netns/index.js';
import { launchWarmer, type WarmerProcess } from '../helpers/warmer-process.js';
import { startRecordingServer, type RecordingServer } from '../helpers/recording-server.js';
import { until } from '../helpers/until.js';

const KEY = 'a test secret for two hosts';

describe('a warmer host dies (two warmers on two test hosts)', function () {
  this.timeout(60_000);
  const net = new TestNetwork({ tag: 'wh', subnet: 1, hosts: ['warm1', 'warm2'] });
  let proxy: RecordingServer;
  const warmers: WarmerProcess[] = [];
  let hinter: Hinter;

  before(async function () {
    if (!(await canMakeHosts())) this.skip();
    await net.up();
    proxy = await startRecordingServer(undefined, net.gateway);
    for (const name of ['warm1', 'warm2']) {
      const { address, ns } = net.host(name);
      warmers.push(
        await launchWarmer(
          {
            udp: { host: address, port: 4950 },
            http: { host: address, port: 9464 },
            ttlMs: 10_000,
            futureMs: 10_000,
            keys: { k1: KEY },
            proxy: proxy.url,
            colos: [{ name: 'sin', host: 'cache-sin.hearth.local', cidrs: ['10.1.0.0/16'] }],
            push: { concurrency: 4, timeoutMs: 2000 },
          },
          { wrap: ['ip', 'netns', 'exec', ns] },
        ),
      );
    }
    hinter = createHinter({ warmers: warmers.map((w) => w.udp), keyId: 'k1', key: KEY });
  });

  after(async () => {
    await hinter?.close();
    for (const w of warmers) await w.stop().catch(() => undefined);
    await proxy?.close();
    await net.down();
  });

  it('the other warmer keeps pushing its share; hints to the dead one are lost and counted, never retried', async () => {
    const ring = new Rendezvous(
      warmers,
      warmers.map((w) => w.udp),
    );
    const paths = (round: number) => Array.from({ length: 200 }, (_, i) => `/photos/${round}/${round * 1000 + i}_b.jpg`);
    const pushed = () => new Set(proxy.requests.map((r) => r.path));
    const hintAll = (ps: string[]) => {
      for (let i = 0; i < ps.length; i += 10) hinter.hint({ paths: ps.slice(i, i + 10), viewer: '10.1.2.3' });
    };
    // Both hosts up: every path pushed, by the warmer its hash names.
    const first = paths(1);
    hintAll(first);
    await until('every path of the first round pushed', () => (first.every((p) => pushed().has(p)) ? true : undefined), 20_000);
    const share = first.filter((p) => ring.pick(p) === 1).length;
    assert.ok(share > 50 && share < 150, `warm2's share ${share} of 200`);

    // warm2's host dies with everything on it.
    assert.ok((await net.kill('warm2')) >= 1);
    const before = hinter.stats();
    const second = paths(2);
    const mine = second.filter((p) => ring.pick(p) === 0);
    const lost = second.filter((p) => ring.pick(p) === 1);
    // Each batch on its own turn, so the kernel's ICMP answer for a dead port comes back between sends.
    for (let i = 0; i < second.length; i += 10) {
      hinter.hint({ paths: second.slice(i, i + 10), viewer: '10.1.2.3' });
      await new Promise((r) => setTimeout(r, 20));
    }
    await until("warm1's share of the second round pushed", () => (mine.every((p) => pushed().has(p)) ? true : undefined), 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(
      lost.filter((p) => pushed().has(p)),
      [],
      "nothing of the dead host's share was pushed",
    );
    const stats = hinter.stats();
    assert.ok(stats.sendErrors > before.sendErrors, `the sender counted its lost datagrams (${stats.sendErrors - before.sendErrors})`);
    // Lost, not retried: one datagram per warmer a batch names, and not one more.
    let expected = 0;
    for (let i = 0; i < second.length; i += 10) expected += new Set(second.slice(i, i + 10).map((p) => ring.pick(p))).size;
    assert.equal(stats.datagrams - before.datagrams, expected);
    assert.equal(stats.hints - before.hints, 20);
  });
});
