import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CorpusManifest } from '../corpus/index.js';
import type { Stack } from '../stack/index.js';
import type { SimTarget } from './simulate.js';

/** What a simulation needs to know about a running stack, from its own records. */
export function simTargetOf(stack: Stack, paths?: string[]): SimTarget {
  const s = stack.status();
  if (s.warmers.some((w) => !w.running) || !s.proxy.running || s.colos.some((c) => !c.running.every(Boolean))) {
    throw new Error(`the stack in ${s.stateDir} is not fully up; run \`hearth stack up\` (status: hearth stack status)`);
  }
  const manifest = JSON.parse(readFileSync(join(s.origin.root, 'manifest.json'), 'utf8')) as CorpusManifest;
  return {
    warmerUdps: s.warmers.map((w) => w.udp),
    warmerHttps: s.warmers.map((w) => w.http),
    proxy: s.proxy.address,
    colos: s.colos.map((c) => ({
      name: c.name,
      cache: c.cache,
      host: c.host,
      cidrs: c.cidrs,
      accessLogs: stack
        .instances()
        .filter((n) => n.inst.colo === c.name)
        .map((n) => n.accessLog),
    })),
    paths: paths ?? unusedPaths(stack, manifest.paths),
  };
}

/** Where a stack remembers the paths earlier simulations put into its caches. */
const usedFile = (stack: Stack): string => join(stack.stateDir, 'simulate', 'used-paths.txt');

/**
 * The store's paths no earlier simulation on this stack has asked for: a second run must
 * measure warming, not a cache the first one filled. Too few left is an error that says
 * how to get empty caches.
 */
function unusedPaths(stack: Stack, all: readonly string[]): string[] {
  const file = usedFile(stack);
  const used = new Set(existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []);
  return all.filter((p) => !used.has(p));
}

/** Records paths a simulation put into the stack's caches (every path it hinted or asked for). */
export function recordUsedPaths(stack: Stack, paths: Iterable<string>): void {
  const file = usedFile(stack);
  mkdirSync(dirname(file), { recursive: true });
  const text = [...paths].join('\n');
  if (text) appendFileSync(file, `${text}\n`);
}
