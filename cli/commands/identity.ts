import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { IdentityWorker, identify, indexStore, loadIdentityConfig, loadOrBuild } from '../../identity/index.js';
import { requireDirStore } from '../../store/index.js';
import { portArg } from '../args.js';
import { BROKERS_FLAG, daemonCommand, STORE_FLAG } from '../service-command.js';

export function registerIdentity(program: Command): void {
  const cmd = program.command('identity').description('image identity: exact fingerprints (no image stored twice), PDQ perceptual hashes, the blocklist');
  daemonCommand(cmd, {
    name: 'worker',
    description: 'run the identity tier: hearth.images.uploaded in; hearth.images.accepted (on to resizing), hearth.images.quarantined and hearth.images.matched (duplicates, near-duplicates) out',
    configHelp: 'identity config (JSON); default: local broker, store .cache/store, no blocklist',
    flags: [
      STORE_FLAG,
      BROKERS_FLAG,
      { flags: '--blocklist <file>', description: 'blocklisted PDQ hashes, one per line (overrides the config)', path: 'blocklist' },
      { flags: '--http-port <port>', description: '/metrics, /healthz and /readyz port (overrides the config)', path: 'http.port', parse: portArg },
    ],
    load: loadIdentityConfig,
    create: (config) => ({ service: new IdentityWorker(config), log: createLogger('identity', config.log.level), graceMs: config.shutdownGraceMs }),
  });
  cmd
    .command('index')
    .description("fingerprint every original in the store and write the index (<store>/.hearth-identity.idx), atomically")
    .option('--store <dir>', 'store root', '.cache/store')
    .action(async (o: { store: string }) => {
      const { stats } = await indexStore(requireDirStore(o.store, 'hearth identity index'));
      process.stdout.write(`${JSON.stringify({ store: o.store, ...stats })}\n`);
    });
  cmd
    .command('lookup')
    .description('which stored image each file is: one JSON line per file ({"file","id"|null,"collisions"}); a missing or corrupt index is rebuilt first')
    .argument('<files...>', 'files to look up')
    .option('--store <dir>', 'store root', '.cache/store')
    .action(async (files: string[], o: { store: string }) => {
      const { index, rebuilt } = await loadOrBuild(requireDirStore(o.store, 'hearth identity lookup'));
      if (rebuilt) process.stderr.write(`hearth identity: index rebuilt (${rebuilt})\n`);
      for (const file of files) process.stdout.write(`${JSON.stringify(await identify(o.store, index, file))}\n`);
    });
}
