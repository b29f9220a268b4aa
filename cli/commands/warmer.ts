import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { Warmer, loadWarmerConfig } from '../../warmer/index.js';
import { portArg } from '../args.js';
import { daemonCommand, HTTP_FLAG } from '../service-command.js';

export function registerWarmer(program: Command): void {
  daemonCommand(program, {
    name: 'warmer',
    description: 'run the warmer daemon: UDP hints in, pushes to the regional caches out',
    configHelp: 'warmer config v1 (JSON); default: the embedded local-stack config',
    flags: [
      { flags: '--udp-port <port>', description: 'UDP port for hints (overrides the config)', path: 'udp.port', parse: portArg },
      HTTP_FLAG,
      { flags: '--proxy <url>', description: 'the keep-alive proxy (overrides the config)', path: 'proxy' },
    ],
    load: loadWarmerConfig,
    redact: (c) => ({ ...c, keys: Object.fromEntries(Object.keys(c.keys).map((k) => [k, '(secret)'])) }),
    create: (config) => {
      const warmer = new Warmer(config);
      // The warmer bounds its own drain by shutdownGraceMs; the process allows a little more to close sockets.
      return { service: warmer, log: createLogger('warmer', config.log.level), graceMs: config.shutdownGraceMs + 2000 };
    },
  });
}
