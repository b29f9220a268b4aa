import type { Command } from 'commander';
import { loadResizeConfig, ResizeWorker } from '../../resize/index.js';
import { portArg } from '../args.js';

export function registerResize(program: Command): void {
  program
    .command('resize')
    .description('run a resize-tier worker: hearth.images.uploaded in, every ladder size and hearth.images.resized out')
    .option('-c, --config <file>', 'resize config (JSON); default: local broker, store .cache/store')
    .option('--store <dir>', 'store root (overrides the config)')
    .option('--brokers <list>', 'comma-separated Kafka brokers (overrides the config)')
    .option('--http-port <port>', '/metrics port (overrides the config)', portArg)
    .action(async (o: { config?: string; store?: string; brokers?: string; httpPort?: number }) => {
      const base = loadResizeConfig(o.config);
      const config = loadResizeConfig(o.config, {
        ...(o.store ? { store: o.store } : {}),
        ...(o.brokers ? { kafka: { ...base.kafka, brokers: o.brokers.split(',') } } : {}),
        ...(o.httpPort !== undefined ? { http: { ...base.http, port: o.httpPort } } : {}),
      });
      const worker = new ResizeWorker(config);
      await worker.start();
      let signals = 0;
      const stop = (): void => {
        if (++signals > 1) process.exit(1);
        worker.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}
