import { resolve } from 'node:path';
import type { Command } from 'commander';
import { KafkaBroker } from '../../kafka/index.js';
import { portArg } from '../args.js';

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
  common(cmd.command('status').description('is it running')).action((o: KafkaOpts) => {
    const b = broker(o);
    process.stdout.write(`${JSON.stringify({ kafka: { address: b.address, running: b.pid() !== undefined, pid: b.pid() ?? null } })}\n`);
  });
}
