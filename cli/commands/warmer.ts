import type { Command } from 'commander';
import { loadWarmerConfig, Warmer } from '../../warmer/index.js';

export function registerWarmer(program: Command): void {
  program
    .command('warmer')
    .description('run the warmer daemon: UDP hints in, pushes to the regional caches out')
    .option('-c, --config <file>', 'warmer config v1 (JSON); default: the embedded local-stack config')
    .option('--print-config', 'print the effective config (defaults filled in) and exit')
    .action(async (opts: { config?: string; printConfig?: boolean }) => {
      const config = loadWarmerConfig(opts.config);
      if (opts.printConfig) {
        const shown = { ...config, keys: Object.fromEntries(Object.keys(config.keys).map((k) => [k, '(secret)'])) };
        process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
        return;
      }
      const warmer = new Warmer(config);
      await warmer.start();
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        // A second signal means "now": skip the grace period.
        if (++signals > 1) process.exit(1);
        warmer.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`hearth warmer: shutdown after ${signal} failed: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
}
