#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { HearthError } from '../common/index.js';
import { registerCeph } from './commands/ceph.js';
import { registerCorpus } from './commands/corpus.js';
import { registerDocs } from './commands/docs.js';
import { registerHint } from './commands/hint.js';
import { registerProxyConfig } from './commands/proxy-config.js';
import { registerOriginDelay } from './commands/origin-delay.js';
import { registerKafka } from './commands/kafka.js';
import { registerBackfill } from './commands/backfill.js';
import { registerCompress } from './commands/compress.js';
import { registerOrigin } from './commands/origin.js';
import { registerIdentity } from './commands/identity.js';
import { registerDashboard } from './commands/dashboard.js';
import { registerDeploy } from './commands/deploy.js';
import { registerRace } from './commands/race.js';
import { registerResize } from './commands/resize.js';
import { registerSimulate } from './commands/simulate.js';
import { registerStack } from './commands/stack.js';
import { registerStore } from './commands/store.js';
import { registerTakedown } from './commands/takedown.js';
import { registerTasteTest } from './commands/taste-test.js';
import { registerUpload } from './commands/upload.js';
import { registerWarmer } from './commands/warmer.js';

const program = new Command('hearth').description('Hearth: warm hints, regional caches, resize and compression tiers').showHelpAfterError().exitOverride();

registerWarmer(program);
registerHint(program);
registerProxyConfig(program);
registerStack(program);
registerDeploy(program);
registerOriginDelay(program);
registerSimulate(program);
registerKafka(program);
registerResize(program);
registerOrigin(program);
registerRace(program);
registerDashboard(program);
registerIdentity(program);
registerStore(program);
registerCeph(program);
registerBackfill(program);
registerUpload(program);
registerTakedown(program);
registerCompress(program);
registerTasteTest(program);
registerCorpus(program);
registerDocs(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // One mapping for every command: a Hearth error exits with its code's status (common/errors.ts).
  if (err instanceof HearthError) {
    process.stderr.write(`hearth: ${err.message} [${err.code}]\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`hearth: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
