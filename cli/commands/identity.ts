import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { IdentityWorker, identify, indexFile, indexStore, loadIdentityConfig, loadOrBuild } from '../../identity/index.js';
import { DEFAULT_STORE, tierStateDir, withStore } from '../../store/index.js';
import { BROKERS_FLAG, daemonCommand, STORE_FLAG, HTTP_FLAG } from '../service-command.js';

export function registerIdentity(program: Command): void {
  const cmd = program.command('identity').description('image identity: exact fingerprints (no image stored twice), PDQ perceptual hashes, the blocklist');
  daemonCommand(cmd, {
    name: 'worker',
    description:
      'run the identity tier: hearth.images.uploaded in; hearth.images.accepted (on to resizing), hearth.images.quarantined and hearth.images.matched (duplicates, near-duplicates) out',
    configHelp: "identity config (JSON); default: local broker, the local stack's store service, no blocklist",
    flags: [
      STORE_FLAG,
      BROKERS_FLAG,
      { flags: '--blocklist <file>', description: 'blocklisted PDQ hashes, one per line (overrides the config)', path: 'blocklist' },
      HTTP_FLAG,
    ],
    load: loadIdentityConfig,
    create: (config) => ({ service: new IdentityWorker(config), log: createLogger('identity', config.log.level), graceMs: config.shutdownGraceMs }),
  });
  cmd
    .command('index')
    .description('fingerprint every original in the store and write the index (.hearth-identity.idx in the state directory), atomically')
    .option('--store <store>', 'the store: a directory, or the http:// address of the store service', DEFAULT_STORE)
    .option('--state-dir <dir>', "where the index lives (default: the directory store's root; required with a store service)")
    .action(async (o: { store: string; stateDir?: string }) => {
      const file = indexFile(tierStateDir(o.store, o.stateDir, 'hearth identity index'));
      const { stats } = await withStore(o.store, (store) => indexStore(store, file));
      process.stdout.write(`${JSON.stringify({ store: o.store, index: file, ...stats })}\n`);
    });
  cmd
    .command('lookup')
    .description('which stored image each file is: one JSON line per file ({"file","id"|null,"collisions"}); a missing or corrupt index is rebuilt first')
    .argument('<files...>', 'files to look up')
    .option('--store <store>', 'the store: a directory, or the http:// address of the store service', DEFAULT_STORE)
    .option('--state-dir <dir>', "where the index lives (default: the directory store's root; required with a store service)")
    .action(async (files: string[], o: { store: string; stateDir?: string }) => {
      const file = indexFile(tierStateDir(o.store, o.stateDir, 'hearth identity lookup'));
      await withStore(o.store, async (store) => {
        const { index, rebuilt } = await loadOrBuild(store, file);
        if (rebuilt) process.stderr.write(`hearth identity: index rebuilt (${rebuilt})\n`);
        for (const f of files) process.stdout.write(`${JSON.stringify(await identify(store, index, f))}\n`);
      });
    });
}
