import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { IdentityWorker, identify, indexFile, indexLedger, ledgerFile, loadIdentityConfig, loadLookup } from '../../identity/index.js';
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
  // The identity tier's own files: the ledger and its index, beside each other.
  const ledgerOf = (o: { store: string; stateDir?: string }, what: string): string => {
    if (!o.stateDir) tierStateDir(o.store, undefined, what);
    return ledgerFile(o.store, o.stateDir);
  };
  const stateDirFlag =
    "the identity tier's state directory, where its ledger is (default: <store>/.hearth-identity for a directory store; required with a store service)";
  cmd
    .command('index')
    .description(
      'write the exact index of the identity ledger (`index` beside it, atomically): a checkpoint lookups load in one read; the ledger, which the worker keeps, is the one record',
    )
    .option('--store <store>', 'the store: a directory, or the http:// address of the store service', DEFAULT_STORE)
    .option('--state-dir <dir>', stateDirFlag)
    .action(async (o: { store: string; stateDir?: string }) => {
      const ledger = ledgerOf(o, 'hearth identity index');
      const { stats } = await indexLedger(ledger);
      process.stdout.write(`${JSON.stringify({ ledger, index: indexFile(ledger), ...stats })}\n`);
    });
  cmd
    .command('lookup')
    .description(
      'which stored image each file is, from the identity ledger: one JSON line per file ({"file","id"|null,"collisions"}), each match confirmed byte for byte against the store; a missing, damaged or stale index is rebuilt first',
    )
    .argument('<files...>', 'files to look up')
    .option('--store <store>', 'the store: a directory, or the http:// address of the store service', DEFAULT_STORE)
    .option('--state-dir <dir>', stateDirFlag)
    .action(async (files: string[], o: { store: string; stateDir?: string }) => {
      const ledger = ledgerOf(o, 'hearth identity lookup');
      await withStore(o.store, async (store) => {
        const images = await loadLookup(ledger);
        if (images.rebuilt) process.stderr.write(`hearth identity: index rebuilt (${images.rebuilt})\n`);
        if (images.size === 0) process.stderr.write(`hearth identity: the ledger ${ledger} holds no images (the identity worker writes it)\n`);
        for (const f of files) process.stdout.write(`${JSON.stringify(await identify(store, images, f))}\n`);
      });
    });
}
