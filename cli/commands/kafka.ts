import { resolve } from 'node:path';
import type { Command } from 'commander';
import { KafkaBroker, createKafka, ensureTopics } from '../../kafka/index.js';
import { createLogger } from '../../common/index.js';
import { PIPELINE_TOPICS } from '../../stack/index.js';
import { portArg } from '../args.js';
import { listArg } from '../service-command.js';

interface KafkaOpts {
  state: string;
  port: number;
  controllerPort: number;
}

export function registerKafka(program: Command): void {
  const cmd = program.command('kafka').description('a single-node Apache Kafka broker (KRaft) for the local stack, from Maven Central jars');
  const common = (c: Command): Command =>
    c
      .option('--state <dir>', 'state directory (config, data, log, pid)', process.env.HEARTH_KAFKA_STATE ?? '.state/kafka')
      .option('--port <port>', 'client port', portArg, 9092)
      .option('--controller-port <port>', 'KRaft controller port', portArg, 9093);
  const broker = (o: KafkaOpts): KafkaBroker => new KafkaBroker({ dir: resolve(o.state), port: o.port, controllerPort: o.controllerPort });
  common(cmd.command('up').description('start the broker (idempotent); fetches the jars first if needed')).action(async (o: KafkaOpts) => {
    const b = broker(o);
    await b.start();
    process.stdout.write(`${JSON.stringify({ kafka: { address: b.address, pid: b.pid(), dir: b.dir } })}\n`);
  });
  common(cmd.command('down').description('stop the broker this state directory started')).action(async (o: KafkaOpts) => {
    await broker(o).stop();
  });
  cmd
    .command('topics')
    .description(
      "create the pipeline's topics that are missing, with their partitions (what `stack up` does; once per deployment), on a single node or a cluster (three copies there)",
    )
    .requiredOption('--brokers <list>', 'comma-separated Kafka brokers', listArg)
    .option('--json', 'print what was created as JSON')
    .action(async (o: { brokers: string[]; json?: boolean }) => {
      const admin = createKafka(o.brokers, 'hearth-topics', createLogger('kafka-topics', 'warn', true)).admin();
      await admin.connect();
      try {
        const created = await ensureTopics(admin, PIPELINE_TOPICS);
        process.stdout.write(o.json ? `${JSON.stringify({ created })}\n` : `${created.length ? `created ${created.join(', ')}` : 'every topic was there'}\n`);
      } finally {
        await admin.disconnect();
      }
    });
  common(cmd.command('status').description('is it running')).action((o: KafkaOpts) => {
    const b = broker(o);
    process.stdout.write(`${JSON.stringify({ kafka: { address: b.address, running: b.pid() !== undefined, pid: b.pid() ?? null } })}\n`);
  });
}
