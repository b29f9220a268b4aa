import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../api-hook/', import.meta.url));

describe('api-hook as its own package', () => {
  it('declares no runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as Record<string, unknown>;
    assert.equal(pkg.dependencies, undefined);
    assert.equal(pkg.peerDependencies, undefined);
  });

  it('imports nothing but Node built-ins and its own files', () => {
    for (const f of readdirSync(`${root}dist`).filter((n) => n.endsWith('.js'))) {
      const src = readFileSync(`${root}dist/${f}`, 'utf8');
      for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const spec = m[1] as string;
        assert.ok(spec.startsWith('node:') || spec.startsWith('./'), `${f} imports ${spec}`);
      }
    }
  });
});
