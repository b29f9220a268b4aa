import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusManifest } from '../corpus/index.js';
import type { Stack } from '../stack/index.js';
import type { SimTarget } from './simulate.js';

/** What a simulation needs to know about a running stack, from its own records. */
export function simTargetOf(stack: Stack, paths?: string[]): SimTarget {
  const s = stack.status();
  if (!s.warmer.running || !s.proxy.running || s.colos.some((c) => !c.running.every(Boolean))) {
    throw new Error(`the stack in ${s.stateDir} is not fully up; run \`hearth stack up\` (status: hearth stack status)`);
  }
  const manifest = JSON.parse(readFileSync(join(s.origin.root, 'manifest.json'), 'utf8')) as CorpusManifest;
  return {
    warmerUdp: s.warmer.udp,
    warmerHttp: s.warmer.http,
    proxy: s.proxy.address,
    colos: s.colos.map((c) => ({
      name: c.name,
      cache: c.cache,
      host: c.host,
      cidrs: c.cidrs,
      accessLogs: stack.instances().filter((n) => n.inst.colo === c.name).map((n) => n.accessLog),
    })),
    paths: paths ?? manifest.paths,
  };
}
