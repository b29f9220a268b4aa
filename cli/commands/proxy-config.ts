import type { Command } from 'commander';
import { ensureCerts, NginxInstance, renderAll } from '../../proxy-config/index.js';
import { loadTopology } from '../../topology/index.js';
import { resolve } from 'node:path';

export function registerProxyConfig(program: Command): void {
  const cmd = program.command('proxy-config').description('nginx configs for the keep-alive proxy, the regional caches and the origin, from one topology file');
  cmd
    .command('render')
    .description('write one nginx config per instance under DIR/<instance>/ and check each with nginx -t')
    .requiredOption('-t, --topology <file>', 'topology (JSON)')
    .requiredOption('-o, --out <dir>', 'output directory')
    .option('--no-check', 'skip nginx -t')
    .action(async (o: { topology: string; out: string; check: boolean }) => {
      const t = loadTopology(o.topology);
      if (t.proxy.tls && t.proxy.certDir) await ensureCerts(t, t.proxy.certDir);
      for (const inst of renderAll(t, resolve(o.out))) {
        const n = new NginxInstance(inst);
        n.write();
        if (o.check) await n.test();
        process.stdout.write(`${inst.name}\t${inst.listen}\t${n.conf}\n`);
      }
    });
  cmd
    .command('certs')
    .description('make a local CA and a certificate for the cache nodes (idempotent)')
    .requiredOption('-t, --topology <file>', 'topology (JSON)')
    .requiredOption('-o, --out <dir>', 'where ca.pem, cache.pem and cache.key go')
    .action(async (o: { topology: string; out: string }) => {
      process.stdout.write(`${await ensureCerts(loadTopology(o.topology), resolve(o.out))}\n`);
    });
}
