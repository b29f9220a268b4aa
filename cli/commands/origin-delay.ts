import type { Command } from 'commander';
import { parseHostPort } from '@hearth/api-hook';
import { startLatencyProxy } from '../../stack/index.js';
import { createLogger, runService, type LogLevel } from '../../common/index.js';
import { intArg } from '../args.js';
import { logLevelArg } from '../service-command.js';

export function registerOriginDelay(program: Command): void {
  program
    .command('origin-delay')
    .description('a latency proxy in front of the origin (the local stack runs it when its topology has origin.delay)')
    .requiredOption('--listen <host:port>', 'where the caches connect')
    .requiredOption('--to <host:port>', 'the origin front')
    .requiredOption('--delay-ms <ms>', 'added to every request', intArg(0, 600_000))
    .option('--log-level <level>', 'log level', logLevelArg, 'info')
    .action(async (o: { listen: string; to: string; delayMs: number; logLevel: LogLevel }) => {
      const log = createLogger('origin-delay', o.logLevel);
      let proxy: Awaited<ReturnType<typeof startLatencyProxy>> | undefined;
      const service = {
        start: async (): Promise<void> => {
          proxy = await startLatencyProxy({ listen: parseHostPort(o.listen), to: o.to, delayMs: o.delayMs });
          log.info({ listen: o.listen, to: o.to, delayMs: o.delayMs }, 'origin-delay listening');
        },
        stop: async (): Promise<void> => {
          await proxy?.close();
        },
      };
      await runService(service, { name: 'origin-delay', graceMs: 5000, log });
    });
}
