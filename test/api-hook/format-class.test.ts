/**
 * The format class: one definition of which encoding a client's `Accept` gets. Real
 * browsers' headers, `q=0`, and a seeded fuzz against a parser of the header by its
 * grammar (RFC 9110 §12.5.1): the patterns the caches render must say what it says.
 */
import assert from 'node:assert/strict';
import { CLASS_ACCEPT, FORMAT_CLASSES, formatClass, type FormatClass } from '@hearth/api-hook';
import { seededRandom } from '../../common/random.js';
import { BROWSER_ACCEPTS } from '../helpers/browsers.js';

/** The class by the header's grammar: the best class whose type is listed by name with a non-zero q. */
function byGrammar(accept: string): FormatClass {
  const listed = new Map<string, number>();
  for (const element of accept.split(',')) {
    const [type, ...params] = element.split(';').map((x) => x.trim().toLowerCase());
    if (!type) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]*)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    // A type listed twice is accepted if either listing accepts it.
    listed.set(type, Math.max(q, listed.get(type) ?? 0));
  }
  for (const f of FORMAT_CLASSES) if (f !== 'jpeg' && (listed.get(`image/${f}`) ?? 0) > 0) return f;
  return 'jpeg';
}

describe('format class from Accept', () => {
  for (const b of BROWSER_ACCEPTS)
    it(`${b.browser}: ${b.format}`, () => {
      assert.equal(formatClass(b.accept), b.format);
    });

  it('a type refused with q=0 (in any spelling) does not count; any other q does', () => {
    assert.equal(formatClass('image/avif;q=0,image/webp'), 'webp');
    assert.equal(formatClass('image/avif ; q = 0.000, image/webp;q=0'), 'jpeg');
    assert.equal(formatClass('image/avif;level=1;q=0'), 'jpeg');
    assert.equal(formatClass('image/avif;q=0.001'), 'avif');
    assert.equal(formatClass('IMAGE/AVIF'), 'avif');
    // Not the type itself: a longer name, or the name inside a parameter.
    assert.equal(formatClass('image/avifx,image/webpz'), 'jpeg');
    assert.equal(formatClass('text/html;x=image/avif'), 'jpeg');
  });

  it("the Accept each class's requests carry has that class", () => {
    for (const f of FORMAT_CLASSES) assert.equal(formatClass(CLASS_ACCEPT[f]), f);
  });

  const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? 0xacce);
  it(`agrees with the header's grammar on 20,000 generated headers (seed ${SEED})`, () => {
    const rnd = seededRandom(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const types = ['image/avif', 'image/webp', 'image/jpeg', 'image/png', 'image/*', '*/*', 'image/jxl', 'video/*', 'IMAGE/WEBP', 'image/avif-x'];
    const qs = ['', ';q=0', ';q=0.0', ';q=0.5', ';q=1', ' ; q=0', ';q=0.001', ';level=2;q=0', ';q=0;level=2', ';level=2'];
    for (let i = 0; i < 20_000; i++) {
      const n = 1 + Math.floor(rnd() * 6);
      const accept = Array.from({ length: n }, () => `${rnd() < 0.2 ? ' ' : ''}${pick(types)}${pick(qs)}`).join(',');
      assert.equal(formatClass(accept), byGrammar(accept), `Accept: ${accept} (seed ${SEED})`);
    }
  });
});
