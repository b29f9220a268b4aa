import type { Command } from 'commander';
import { parseHostPort } from '@hearth/api-hook';
import { startLatencyProxy } from '../../stack/index.js';
import { intArg } from '../args.js';

export function registerOriginDelay(program: Command): void {
  program
    .command('origin-delay')
    .description('a latency proxy in front of the origin (the local stack runs it when its topology has origin.delay)')
    .requiredOption('--listen <host:port>', 'where the caches connect')
    .requiredOption('--to <host:port>', 'the origin front')
    .requiredOption('--delay-ms <ms>', 'added to every request', intArg(0, 600_000))
    .action(async (o: { listen: string; to: string; delayMs: number }) => {
      const p = await startLatencyProxy({ listen: parseHostPort(o.listen), to: o.to, delayMs: o.delayMs });
      process.stdout.write(`${JSON.stringify({ msg: 'origin-delay listening', listen: o.listen, to: o.to, delayMs: o.delayMs })}\n`);
      const stop = (): void => void p.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
