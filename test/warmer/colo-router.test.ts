import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { seededRandom } from '../../common/index.js';
import { ColoRouter, parseDottedQuad } from '../../warmer/colo-router.js';

const colos = [
  { name: 'sin', host: 'cache-sin', cidrs: ['10.1.0.0/16', '2001:db8:1::/48'] },
  { name: 'ams', host: 'cache-ams', cidrs: ['10.0.0.0/8', '2001:db8::/32'] },
  { name: 'lhr', host: 'cache-lhr', cidrs: ['10.1.2.0/24', '0.0.0.0/0'] },
];
const name = (r: ReturnType<ColoRouter['route']>): string | null | undefined => (r ? r.name : r);

describe('colo routing by longest-prefix CIDR match', () => {
  const r = new ColoRouter(colos.slice(0, 2));

  it('routes IPv4 by the longest matching prefix', () => {
    assert.equal(name(r.route('10.1.200.3')), 'sin');
    assert.equal(name(r.route('10.2.0.1')), 'ams');
    const withLhr = new ColoRouter(colos);
    assert.equal(name(withLhr.route('10.1.2.99')), 'lhr', '/24 beats /16');
    assert.equal(name(withLhr.route('10.1.3.99')), 'sin');
    assert.equal(name(withLhr.route('8.8.8.8')), 'lhr', '0.0.0.0/0 catches the rest');
  });

  it('routes IPv6, including IPv4-mapped addresses', () => {
    assert.equal(name(r.route('2001:db8:1::7')), 'sin');
    assert.equal(name(r.route('2001:db8:ffff::1')), 'ams');
    assert.equal(name(r.route('::ffff:10.1.0.9')), 'sin');
  });

  it('says undefined for no match without a default, and uses the default when given', () => {
    assert.equal(r.route('192.0.2.1'), undefined);
    assert.equal(r.route('2a00::1'), undefined);
    assert.equal(name(new ColoRouter(colos.slice(0, 2), 'ams').route('192.0.2.1')), 'ams');
  });

  it('says null for what is not a standard IP address', () => {
    for (const bad of ['', 'localhost', '10.1', '127.1', '0x7f.0.0.1', '1.2.3.4.5', '300.1.1.1', '::g', '1.2.3.4\n']) {
      assert.equal(r.route(bad), null, bad);
    }
  });

  it('reads dotted quads exactly as node:net does, on its fast path', () => {
    const rnd = seededRandom(99);
    const pick = (xs: string): string => xs[Math.floor(rnd() * xs.length)] as string;
    for (let i = 0; i < 20000; i++) {
      // Near misses of dotted quads: digits, dots, leading zeros, signs, spaces, hex.
      let s = '';
      const len = 1 + Math.floor(rnd() * 16);
      for (let j = 0; j < len; j++) s += pick('0123456789012345678901234567890....x :-');
      const fast = parseDottedQuad(s);
      assert.equal(fast >= 0, isIPv4(s), JSON.stringify(s));
      if (fast >= 0)
        assert.equal(
          fast,
          s.split('.').reduce((a, o) => a * 256 + Number(o), 0),
          s,
        );
    }
    for (let i = 0; i < 20000; i++) {
      const octets = Array.from({ length: 3 + Math.floor(rnd() * 3) }, () => `${rnd() < 0.1 ? '0' : ''}${Math.floor(rnd() * 300)}`);
      const s = octets.join('.');
      assert.equal(parseDottedQuad(s) >= 0, isIPv4(s), s);
    }
    assert.equal(parseDottedQuad('255.255.255.255'), 0xffffffff);
    assert.equal(parseDottedQuad('0.0.0.0'), 0);
  });

  it('finds colos by name', () => {
    assert.equal(r.byColoName('sin')?.host, 'cache-sin');
    assert.equal(r.byColoName('nope'), undefined);
  });
});
