/**
 * The folder layout is the architecture: tiers use shared modules, never each other,
 * and reach another folder only through its index.ts. Read from the sources, so a new
 * import that breaks the rule fails here, not in review.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, normalize, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Used by tiers; each may use the ones before it in this list and nothing else of the project. */
const SHARED = ['common', 'store', 'image', 'topology', 'kafka'] as const;
const SHARED_MAY_USE: Record<(typeof SHARED)[number], readonly string[]> = {
  common: [],
  store: ['common'],
  image: ['common', 'store'],
  topology: ['common', 'store'],
  kafka: ['common'],
};
const TIERS = ['warmer', 'resize', 'compress', 'origin', 'backfill', 'upload', 'taste-test', 'race', 'identity', 'store-server', 'takedown'];
/**
 * Every other top-level folder, and why it is under neither rule above: a new folder
 * must be put in one of these lists (or the two above), so none escapes the rules unseen.
 */
const OTHERS: Record<string, string> = {
  'api-hook': 'a package of its own for API servers, with no dependency on the rest',
  cli: 'the composition root: wires every tier into the `hearth` command',
  stack: 'runs every daemon of a topology (composition, like cli)',
  deploy: "writes a topology's hosts as systemd units from the stack's own daemon specs (composition, like stack)",
  simulate: 'drives a running stack from outside, as viewers and API servers would',
  'proxy-config': 'renders and runs nginx from the topology',
  monitoring: "Prometheus's config, rules and mtail program for a topology",
  dashboard: 'draws Prometheus queries; reads no tier',
  corpus: 'builds the store of real photographs for the stack and tests',
  netns: 'hosts as network namespaces on one machine, for the tests and `stack up --hosts`: infrastructure, not a tier',
  ceph: 'starts a Ceph cluster (monitor, manager, OSDs, RADOS Gateway) for the stack and tests: an engine Hearth runs, not a tier',
  bench: 'benchmarks, which may measure any part',
  test: 'the suite, which may test any part',
  docs: 'documentation',
  infra: 'setup scripts',
};
/** Never the project's own sources. */
const IGNORED = new Set(['node_modules', 'dist']);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(join(ROOT, p)).isDirectory()) return n === 'native' ? [] : sources(p);
    return n.endsWith('.ts') ? [p] : [];
  });
}

/** Project files a source imports, as repo-relative paths. */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)].map((m) => normalize(join(dirname(file), m[1]!)));
}

describe('module boundaries', () => {
  it('every top-level folder is a shared module, a tier, or named with its reason', () => {
    const folders = readdirSync(ROOT).filter((d) => !d.startsWith('.') && !IGNORED.has(d) && statSync(join(ROOT, d)).isDirectory());
    const known = new Set<string>([...SHARED, ...TIERS, ...Object.keys(OTHERS)]);
    assert.deepEqual(
      folders.filter((d) => !known.has(d)),
      [],
    );
    assert.deepEqual(
      [...known].filter((d) => !folders.includes(d)),
      [],
      'a listed folder that no longer exists',
    );
  });

  it('tiers import only their own files and shared modules', () => {
    const bad: string[] = [];
    for (const tier of TIERS) {
      for (const f of sources(tier)) {
        for (const target of imports(f)) {
          const top = target.split('/')[0]!;
          if (top !== tier && !(SHARED as readonly string[]).includes(top)) bad.push(`${f} imports ${target}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  it('shared modules import only the shared modules below them', () => {
    const bad: string[] = [];
    for (const mod of SHARED) {
      for (const f of sources(mod)) {
        for (const target of imports(f)) {
          const top = target.split('/')[0]!;
          if (top !== mod && !SHARED_MAY_USE[mod].includes(top)) bad.push(`${f} imports ${target}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  it('outside tests and benchmarks, another folder is reached only through its index.ts', () => {
    const folders = readdirSync(ROOT).filter(
      (d) => !['test', 'bench', 'node_modules', 'dist', 'api-hook'].includes(d) && !d.startsWith('.') && statSync(join(ROOT, d)).isDirectory(),
    );
    const bad: string[] = [];
    for (const d of folders) {
      for (const f of sources(d)) {
        for (const target of imports(f)) {
          const top = target.split('/')[0]!;
          if (top !== d && relative(top, target) !== 'index' && folders.includes(top) && top !== 'cli') bad.push(`${f} imports ${target}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });
});
