/** The native helpers, found one way (common/native.ts): `HEARTH_<NAME>` is `off` or a path; unset, the one setup built. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HEARTH_HOME, NATIVE_HELPERS, nativePath, nativeWhere, type NativeHelper } from '../../common/index.js';

describe('native helpers: one convention', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const h of Object.values(NATIVE_HELPERS) as NativeHelper[]) for (const v of [h.env, h.formerly]) if (v) delete process.env[v];
    Object.assign(process.env, saved);
  });

  for (const [name, h] of Object.entries(NATIVE_HELPERS) as [string, NativeHelper][]) {
    it(`${name} (${h.env}): unset, the built one; off, none; a path, that path`, () => {
      for (const v of [h.env, h.formerly]) if (v) delete process.env[v];
      const built = join(HEARTH_HOME, '.cache', 'bin', h.file);
      assert.equal(nativeWhere(h), built);
      assert.equal(nativePath(h), existsSync(built) ? built : undefined);
      process.env[h.env] = 'off';
      assert.equal(nativePath(h), undefined);
      process.env[h.env] = '/nonexistent/helper';
      assert.equal(nativeWhere(h), '/nonexistent/helper');
      assert.equal(nativePath(h), undefined, 'a path that is not there: none, never the built one instead');
      if (h.formerly) {
        delete process.env[h.env];
        process.env[h.formerly] = '/elsewhere/helper';
        assert.equal(nativeWhere(h), '/elsewhere/helper', `the earlier ${h.formerly} still read`);
      }
    });
  }
});
