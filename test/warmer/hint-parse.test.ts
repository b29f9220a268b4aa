import assert from 'node:assert/strict';
import { parseHint } from '../../warmer/hint.js';

const ok = { v: 1, ts: 1763760000123, viewer: '203.0.113.7', paths: ['/photos/12/345_b.jpg'] };
const parse = (v: unknown): unknown => parseHint(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)));

describe('hint wire format v1: parsing', () => {
  it("accepts the brief's example, with viewer or with colo", () => {
    assert.deepEqual(parse(ok), ok);
    const withColo = { v: 1, ts: 1, colo: 'sin', paths: ['/a'], kid: 'k1', sig: 'A'.repeat(43) };
    assert.deepEqual(parse(withColo), withColo);
  });

  it("accepts the viewer's format class, and a hint without one (every sender from before classes)", () => {
    for (const fmt of ['avif', 'webp', 'jpeg']) assert.deepEqual(parse({ ...ok, fmt }), { ...ok, fmt });
    assert.equal((parse(ok) as { fmt?: string }).fmt, undefined);
  });

  const bad: [string, unknown][] = [
    ['not JSON', '{"v":1,'],
    ['a JSON array', '[1,2]'],
    ['empty', ''],
    ['unknown version', { ...ok, v: 2 }],
    ['ts as a string', { ...ok, ts: '1' }],
    ['fractional ts', { ...ok, ts: 1.5 }],
    ['negative ts', { ...ok, ts: -1 }],
    ['no viewer nor colo', { v: 1, ts: 1, paths: ['/a'] }],
    ['both viewer and colo', { ...ok, colo: 'sin' }],
    ['no paths', { ...ok, paths: [] }],
    ['65 paths', { ...ok, paths: Array.from({ length: 65 }, (_, i) => `/${i}`) }],
    ['a path that is not a string', { ...ok, paths: [1] }],
    ['an empty path', { ...ok, paths: [''] }],
    ['an unknown member', { ...ok, extra: 1 }],
    ['__proto__ member', `{"v":1,"ts":1,"viewer":"1.2.3.4","paths":["/a"],"__proto__":{"x":1}}`],
    ['an unknown format class', { ...ok, fmt: 'gif' }],
    ['a raw Accept as the class', { ...ok, fmt: 'image/avif,image/webp' }],
    ['a short sig', { ...ok, kid: 'k1', sig: 'abc' }],
    ['a kid with a space', { ...ok, kid: 'k 1' }],
    ['a colo with upper case', { v: 1, ts: 1, colo: 'SIN', paths: ['/a'] }],
    ['deep nesting', `{"v":1,"ts":1,"viewer":"1.2.3.4","paths":${'['.repeat(600)}${']'.repeat(600)}}`],
  ];
  for (const [what, v] of bad) it(`rejects ${what}`, () => assert.equal(parse(v), undefined));

  it('rejects a datagram over 1400 bytes even if it is valid JSON', () => {
    const big = { ...ok, paths: [`/${'a'.repeat(1400)}`] };
    assert.equal(parse(big), undefined);
  });
});
