import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { RaceService, loadRaceConfig } from '../../race/index.js';
import { intArg } from '../args.js';
import { daemonCommand, listArg, HTTP_FLAG } from '../service-command.js';

export function registerRace(program: Command): void {
  daemonCommand(program, {
    name: 'race',
    description:
      "the race join: follows the cache nodes' access logs and counts, per colo, whether each pushed path's first viewer got a HIT after the push (won) or came first (lost)",
    configHelp: 'race config (JSON); default: metrics on 127.0.0.1:9462 (logs are required)',
    flags: [
      { flags: '--logs <files>', description: "comma-separated cache nodes' access logs", path: 'logs', parse: listArg },
      HTTP_FLAG,
      { flags: '--from-start', description: 'read each log from its beginning', path: 'fromStart' },
      { flags: '--max-tracked-paths <n>', description: '(colo, path) pairs held at once', path: 'maxTrackedPaths', parse: intArg(100, 10_000_000) },
    ],
    load: loadRaceConfig,
    create: (c) => {
      const log = createLogger('race', c.log.level);
      return { service: new RaceService(c, { logger: log }), log, graceMs: c.shutdownGraceMs };
    },
  });
}
