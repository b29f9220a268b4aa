import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { createHinter, MAX_DATAGRAM_BYTES, MAX_PATHS_PER_HINT, type HinterOptions } from '@hearth/api-hook';
import { parseHint } from '../../warmer/hint.js';
import { SignatureVerifier } from '../../warmer/signature.js';
import { until } from '../helpers/until.js';

/** A real UDP socket on 127.0.0.1:0 collecting what arrives. */
async function receiver(): Promise<{ address: string; got: Buffer[]; close(): void; waitFor(n: number): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const { port } = sock.address();
  return {
    address: `127.0.0.1:${port}`,
    got,
    close: () => sock.close(),
    async waitFor(n) {
      await until(`${n} datagrams`, () => (got.length >= n ? true : undefined), 3000);
    },
  };
}

const paths = (n: number, dir = 12): string[] => Array.from({ length: n }, (_, i) => `/photos/${dir}/${1000 + i}_b.jpg`);

describe('api-hook', () => {
  const open: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c();
  });
  async function setup(opts: Partial<HinterOptions> = {}) {
    const rx = await receiver();
    const hinter = createHinter({ warmers: [rx.address], now: () => 1763760000123, ...opts });
    open.push(
      () => rx.close(),
      () => hinter.close(),
    );
    return { rx, hinter };
  }

  it('sends one wire-format v1 datagram per page, on the next turn', async () => {
    const { rx, hinter } = await setup();
    hinter.hint({ paths: ['/photos/12/345_b.jpg', '/photos/12/346_b.jpg'], viewer: '203.0.113.7' });
    assert.equal(rx.got.length, 0, 'hint() must not send synchronously');
    await rx.waitFor(1);
    assert.equal(rx.got[0]?.toString(), '{"v":1,"ts":1763760000123,"viewer":"203.0.113.7","paths":["/photos/12/345_b.jpg","/photos/12/346_b.jpg"]}');
    assert.deepEqual(hinter.stats(), { hints: 1, datagrams: 1, sendErrors: 0, dropped: { invalid: 0, path_too_long: 0, overflow: 0, closed: 0 } });
  });

  it("carries the viewer's format class (from its Accept, or given), signed with the rest; a JPEG viewer's hint is a v1 hint byte for byte", async () => {
    const { rx, hinter } = await setup({ keyId: 'k1', key: 'a long random secret' });
    const chromium = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
    hinter.hint({ paths: ['/photos/12/345_b.jpg'], viewer: '203.0.113.7', accept: chromium });
    hinter.hint({ paths: ['/photos/12/345_b.jpg'], viewer: '203.0.113.7', format: 'webp', accept: chromium });
    hinter.hint({ paths: ['/photos/12/345_b.jpg'], viewer: '203.0.113.7', accept: '*/*' });
    hinter.hint({ paths: ['/photos/12/345_b.jpg'], viewer: '203.0.113.7' });
    hinter.hint({ paths: ['/photos/12/345_b.jpg'], viewer: '203.0.113.7', format: 'gif' as never });
    await rx.waitFor(4);
    const got = rx.got.map((d) => d.toString().replace(/,"sig":"[^"]+"\}$/, '}'));
    assert.deepEqual(got, [
      '{"v":1,"ts":1763760000123,"viewer":"203.0.113.7","fmt":"avif","paths":["/photos/12/345_b.jpg"],"kid":"k1"}',
      '{"v":1,"ts":1763760000123,"viewer":"203.0.113.7","fmt":"webp","paths":["/photos/12/345_b.jpg"],"kid":"k1"}',
      '{"v":1,"ts":1763760000123,"viewer":"203.0.113.7","paths":["/photos/12/345_b.jpg"],"kid":"k1"}',
      '{"v":1,"ts":1763760000123,"viewer":"203.0.113.7","paths":["/photos/12/345_b.jpg"],"kid":"k1"}',
    ]);
    const verifier = new SignatureVerifier({ k1: 'a long random secret' });
    for (const d of rx.got) assert.equal(verifier.verify(d, parseHint(d)?.kid, parseHint(d)?.sig), 'ok');
    assert.deepEqual(
      rx.got.map((d) => parseHint(d)?.fmt),
      ['avif', 'webp', undefined, undefined],
    );
    assert.equal(hinter.stats().dropped.invalid, 1, 'a class that is none of them is refused, not sent');
  });

  it('splits a big page into datagrams of at most 64 paths and 1400 bytes, losing none', async () => {
    const { rx, hinter } = await setup({ keyId: 'k1', key: 'a long random secret' });
    const long = Array.from({ length: 150 }, (_, i) => `/photos/${i}/${'x'.repeat(40)}${i}_b.jpg`);
    hinter.hint({ paths: [...paths(100), ...long], colo: 'sin' });
    const pathsIn = (ds: Buffer[]) => ds.reduce((a, d) => a + (parseHint(d)?.paths.length ?? 0), 0);
    await until('every path', () => (pathsIn(rx.got) >= 250 ? true : undefined), 3000);
    const seen: string[] = [];
    for (const d of rx.got) {
      assert.ok(d.length <= MAX_DATAGRAM_BYTES, `datagram of ${d.length} bytes`);
      const h = parseHint(d);
      assert.ok(h, `not a valid hint: ${d.toString().slice(0, 80)}`);
      assert.ok(h.paths.length <= MAX_PATHS_PER_HINT);
      seen.push(...h.paths);
    }
    assert.deepEqual(seen.sort(), [...paths(100), ...long].sort());
  });

  it('signs so the warmer verifies, and a changed byte fails', async () => {
    const { rx, hinter } = await setup({ keyId: 'k1', key: 'a long random secret' });
    hinter.hint({ paths: paths(3), viewer: '10.1.2.3' });
    await rx.waitFor(1);
    const d = rx.got[0] as Buffer;
    const h = parseHint(d);
    assert.ok(h);
    const v = new SignatureVerifier({ k1: 'a long random secret' });
    assert.equal(v.verify(d, h.kid, h.sig), 'ok');
    const forged = Buffer.from(d.toString().replace('10.1.2.3', '10.1.2.4'));
    assert.equal(v.verify(forged, h.kid, h.sig), 'mismatch');
  });

  it('never throws on garbage input; counts it', async () => {
    const { hinter } = await setup();
    const bad: unknown[] = [undefined, null, 42, {}, { paths: [] }, { paths: 'x', viewer: '1.2.3.4' }, { paths: ['/a'] }, { paths: ['/a'], viewer: 5 }];
    for (const b of bad) assert.doesNotThrow(() => hinter.hint(b as never));
    hinter.hint({ paths: ['/ok.jpg', 7 as never, ''], viewer: '1.2.3.4' });
    hinter.hint({ paths: [`/${'y'.repeat(2000)}`], viewer: '1.2.3.4' });
    const s = hinter.stats();
    assert.equal(s.dropped.invalid, bad.length + 2);
    assert.equal(s.dropped.path_too_long, 1);
    assert.equal(s.hints, 1);
  });

  it('bounds what waits for a flush and drops the excess, counted', async () => {
    const { hinter } = await setup({ maxPending: 3 });
    for (let i = 0; i < 5; i++) hinter.hint({ paths: paths(1, i), viewer: '1.2.3.4' });
    assert.equal(hinter.stats().dropped.overflow, 2);
  });

  it('spreads paths over several warmers by consistent hashing, each path to one warmer', async () => {
    const rxs = await Promise.all([receiver(), receiver(), receiver()]);
    open.push(...rxs.map((r) => () => r.close()));
    const hinter = createHinter({ warmers: rxs.map((r) => r.address) });
    open.push(() => hinter.close());
    const page = paths(60);
    hinter.hint({ paths: page, viewer: '1.2.3.4' });
    hinter.hint({ paths: page, viewer: '5.6.7.8' });
    const received = () => rxs.reduce((a, rx) => a + rx.got.reduce((b, d) => b + (parseHint(d)?.paths.length ?? 0), 0), 0);
    await until('both pages', () => (received() >= 120 ? true : undefined), 3000);
    const owner = new Map<string, number>();
    rxs.forEach((rx, i) => {
      for (const d of rx.got)
        for (const p of parseHint(d)?.paths ?? []) {
          assert.ok(owner.get(p) === undefined || owner.get(p) === i, `${p} went to two warmers`);
          owner.set(p, i);
        }
    });
    assert.equal(owner.size, page.length);
    for (let i = 0; i < 3; i++) assert.ok([...owner.values()].filter((v) => v === i).length > 5, `warmer ${i} got too few paths`);
  });

  it('counts datagrams a warmer host refuses (nothing listens: the ICMP answer comes back), and never sends them again', async () => {
    // A port just let go of: nothing listens there.
    const rx = await receiver();
    const address = rx.address;
    rx.close();
    const hinter = createHinter({ warmers: [address] });
    open.push(() => hinter.close());
    for (let i = 0; i < 5; i++) {
      hinter.hint({ paths: [`/photos/1/${100 + i}_b.jpg`], colo: 'sin' });
      await new Promise((r) => setTimeout(r, 20));
    }
    await until('a refusal counted', () => (hinter.stats().sendErrors > 0 ? true : undefined), 3000);
    assert.equal(hinter.stats().datagrams, 5, 'each hint sent once');
  });

  it('rejects bad options at construction with the option named', () => {
    assert.throws(() => createHinter({ warmers: [] }), /"warmers"/);
    assert.throws(() => createHinter({ warmers: ['nohost'] }), /host:port/);
    assert.throws(() => createHinter({ warmers: ['127.0.0.1:1'], key: 'k' }), /"keyId" and "key"/);
    assert.throws(() => createHinter({ warmers: ['127.0.0.1:1'], keyId: 'k1', key: 'short' }), /"key"/);
  });

  it('counts hints after close instead of throwing', async () => {
    const { hinter } = await setup();
    await hinter.close();
    hinter.hint({ paths: paths(1), viewer: '1.2.3.4' });
    assert.equal(hinter.stats().dropped.closed, 1);
  });
});
