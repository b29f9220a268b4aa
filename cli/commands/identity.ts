import type { Command } from 'commander';
import { identify, indexStore, loadOrBuild } from '../../identity/index.js';

export function registerIdentity(program: Command): void {
  const cmd = program.command('identity').description('image identity: exact fingerprints of the stored originals (no image stored twice)');
  cmd
    .command('index')
    .description("fingerprint every original in the store and write the index (<store>/.hearth-identity.idx), atomically")
    .option('--store <dir>', 'store root', '.cache/store')
    .action(async (o: { store: string }) => {
      const { stats } = await indexStore(o.store);
      process.stdout.write(`${JSON.stringify({ store: o.store, ...stats })}\n`);
    });
  cmd
    .command('lookup')
    .description('which stored image each file is: one JSON line per file ({"file","id"|null,"collisions"}); a missing or corrupt index is rebuilt first')
    .argument('<files...>', 'files to look up')
    .option('--store <dir>', 'store root', '.cache/store')
    .action(async (files: string[], o: { store: string }) => {
      const { index, rebuilt } = await loadOrBuild(o.store);
      if (rebuilt) process.stderr.write(`hearth identity: index rebuilt (${rebuilt})\n`);
      for (const file of files) process.stdout.write(`${JSON.stringify(await identify(o.store, index, file))}\n`);
    });
}
