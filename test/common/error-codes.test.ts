/** One table of error codes: every `HEARTH_ERR_*` any source names is in it. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, REASON_CODES } from '../../common/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SKIP = new Set(['node_modules', 'dist', 'test']);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((n) => {
    if (n.startsWith('.') || SKIP.has(n)) return [];
    const p = join(dir, n);
    if (statSync(join(ROOT, p)).isDirectory()) return sources(p);
    return /\.(ts|c|h)$/.test(n) ? [p] : [];
  });
}

describe('error codes', () => {
  it('every HEARTH_ERR_* code a source names is in the one table, and the table names no code twice', () => {
    const known = new Set([...Object.keys(ERROR_CODES), ...Object.keys(REASON_CODES)]);
    assert.equal(known.size, Object.keys(ERROR_CODES).length + Object.keys(REASON_CODES).length);
    const missing = new Set<string>();
    for (const file of sources('')) {
      // A code is a whole name: `HEARTH_ERR_KIND_${n}` builds names, it is none itself.
      for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/\bHEARTH_ERR_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_$])/g))
        if (!known.has(m[0])) missing.add(`${m[0]} (${file})`);
    }
    assert.deepEqual([...missing], []);
    assert.deepEqual(new Set(Object.values(ERROR_CODES).map((e) => e.exit)).size, Object.keys(ERROR_CODES).length, 'one exit status per code');
  });
});
