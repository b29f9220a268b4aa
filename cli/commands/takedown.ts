import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { TOPICS, connectProducer, createKafka } from '../../kafka/index.js';
import { Stack } from '../../stack/index.js';
import type { Producer } from 'kafkajs';
import { withStore, type ObjectStore } from '../../store/index.js';
import { readSecrets, secretPaths } from '../../image/index.js';
import {
  Purger,
  TakedownWorker,
  auditTakedown,
  deleteAndAnnounce,
  formatAudit,
  loadDeleteConfig,
  loadPurgerConfig,
  type DeleteConfig,
  loadTakedownWorkerConfig,
  migrateToSecrets,
  rotateSecrets,
} from '../../takedown/index.js';
import { kafkaBrokers, storeSpec } from '../../topology/index.js';
import { imageIdArg } from '../args.js';
import { BROKERS_FLAG, configuredCommand, daemonCommand, listArg, STORE_FLAG, HTTP_FLAG } from '../service-command.js';
import { DEFAULT_STATE } from './stack.js';

/** What a command that takes photos back works with: the store (ready), and a producer of hearth.images.takedown. */
async function withStoreAndProducer(c: DeleteConfig, what: string, fn: (store: ObjectStore, producer: Producer) => Promise<void>): Promise<void> {
  const producer = await connectProducer(c.kafka.brokers, `hearth-${what}`, createLogger(what, c.log.level, true), { [TOPICS.takedown]: c.kafka.partitions });
  try {
    await withStore(c.store, (store) => fn(store, producer), { ready: true });
  } finally {
    await producer.disconnect();
  }
}

export function registerTakedown(program: Command): void {
  daemonCommand(program, {
    name: 'purge',
    description:
      'run the purger: follows hearth.images.takedown and purges every path of each photo from every cache node of its colos, at once and again after the longest upstream fetch; hearth.images.purged out',
    configHelp: 'purger config (JSON; `colos` required): which colos, their nodes, the second pass',
    flags: [BROKERS_FLAG, HTTP_FLAG],
    load: loadPurgerConfig,
    create: (config) => ({ service: new Purger(config), log: createLogger('purge', config.log.level), graceMs: config.shutdownGraceMs }),
  });

  configuredCommand(
    program,
    {
      name: 'delete',
      description:
        'take photos back: the verdict `deleted`, every object of each removed from the store, then the takedown announced on hearth.images.takedown (every colo purges it, no warmer pushes it again); one JSON line per photo',
      configHelp: "delete config (JSON); default: the local stack's store service, the local broker",
      flags: [STORE_FLAG, BROKERS_FLAG],
      load: loadDeleteConfig,
      options: (cmd) =>
        cmd
          .argument('<ids...>', 'image ids')
          .requiredOption('--by <who>', 'who asks, kept with the verdict and the takedown: a person, a system, a takedown reference'),
    },
    async (c, opts, args) => {
      const ids = (args[0] as string[]).map(imageIdArg);
      const by = String(opts.by).slice(0, 200);
      await withStoreAndProducer(c, 'delete', async (store, producer) => {
        for (const id of ids) process.stdout.write(`${JSON.stringify(await deleteAndAnnounce(store, producer, id, by))}\n`);
      });
    },
  );

  const secret = program.command('secret').description("a photo's secrets: what makes its paths unguessable");
  configuredCommand(
    secret,
    {
      name: 'show',
      description: "a photo's served paths (every size and the original, each with its secret), as JSON",
      configHelp: "config (JSON, as `hearth delete`'s); default: the local stack's store service",
      flags: [STORE_FLAG],
      load: loadDeleteConfig,
      options: (cmd) => cmd.argument('<id>', 'image id'),
    },
    async (c, _opts, args) => {
      const id = imageIdArg(args[0] as string);
      await withStore(c.store, async (store) => {
        const s = await readSecrets(store, id);
        process.stdout.write(
          `${JSON.stringify({ id, paths: s ? secretPaths(id, s) : null, ...(s ? {} : { note: 'no secrets: a photo from before them, served under its store paths; `hearth secret migrate` gives it some' }) })}\n`,
        );
      });
    },
  );
  configuredCommand(
    secret,
    {
      name: 'rotate',
      description: 'new secrets for photos (made private again): their old paths answer 404 at once and every colo purges them; prints the new paths',
      configHelp: "config (JSON, as `hearth delete`'s); default: the local stack's store service, the local broker",
      flags: [STORE_FLAG, BROKERS_FLAG],
      load: loadDeleteConfig,
      options: (cmd) => cmd.argument('<ids...>', 'image ids').requiredOption('--by <who>', 'who asks'),
    },
    async (c, opts, args) => {
      const ids = (args[0] as string[]).map(imageIdArg);
      await withStoreAndProducer(c, 'secret', async (store, producer) => {
        for (const id of ids)
          process.stdout.write(`${JSON.stringify({ id, paths: await rotateSecrets(store, producer, id, String(opts.by).slice(0, 200)) })}\n`);
      });
    },
  );
  configuredCommand(
    secret,
    {
      name: 'migrate',
      description: 'secrets for every photo of a store from before them: their store paths stop being served, and every colo purges them; prints how many',
      configHelp: "config (JSON, as `hearth delete`'s); default: the local stack's store service, the local broker",
      flags: [STORE_FLAG, BROKERS_FLAG],
      load: loadDeleteConfig,
    },
    async (c) => {
      await withStoreAndProducer(c, 'secret', async (store, producer) => {
        process.stdout.write(`${JSON.stringify({ migrated: await migrateToSecrets(store, producer) })}\n`);
      });
    },
  );

  const takedown = program.command('takedown').description('photos taken back: deletes other systems ask for, and what became of each');
  daemonCommand(takedown, {
    name: 'worker',
    description:
      'run the takedown worker: hearth.images.delete in (`{"id","by"}` from any system), each photo deleted as `hearth delete` does it, hearth.images.takedown out',
    configHelp: "takedown worker config (JSON); default: local broker, the local stack's store service",
    flags: [STORE_FLAG, BROKERS_FLAG, HTTP_FLAG],
    load: loadTakedownWorkerConfig,
    create: (config) => ({ service: new TakedownWorker(config), log: createLogger('takedown', config.log.level), graceMs: config.shutdownGraceMs }),
  });
  takedown
    .command('status')
    .description(
      "when a photo's delete was acknowledged, when each colo purged it, and when each colo last served any byte of it (from the cache nodes' access logs)",
    )
    .argument('<id>', 'image id', imageIdArg)
    .option('--state <dir>', "the local stack's state directory: its store, broker, colos and cache logs", DEFAULT_STATE)
    .option('--store <store>', "the store (default: the stack's)")
    .option('--brokers <list>', "Kafka brokers (default: the stack's)", listArg)
    .option('--logs <files>', "cache nodes' access logs (default: the stack's)", listArg)
    .option('--json', 'the audit as JSON')
    .action(async (id: string, o: { state: string; store?: string; brokers?: string[]; logs?: string[]; json?: boolean }) => {
      const stack = Stack.load(resolve(o.state));
      const t = stack?.topology;
      const store = o.store ?? (t ? storeSpec(t) : undefined);
      const brokers = o.brokers ?? (t?.kafka ? kafkaBrokers(t) : undefined);
      if (!store || !brokers) throw new Error(`no stack recorded in ${o.state}: give --store and --brokers`);
      const logs = o.logs ?? (stack?.instances() ?? []).filter((n) => n.inst.role === 'cache').map((n) => n.accessLog);
      const kafka = createKafka(brokers, 'hearth-audit', createLogger('takedown', 'warn', true));
      const audit = await withStore(store, (s) => auditTakedown({ id, store: s, kafka, colos: t?.colos.map((x) => x.name) ?? [], logs }));
      process.stdout.write(o.json ? `${JSON.stringify(audit)}\n` : formatAudit(audit));
    });
}
