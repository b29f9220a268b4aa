import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { DashboardServer, grafanaDashboard, loadDashboardConfig } from '../../dashboard/index.js';
import { intArg } from '../args.js';
import { daemonCommand, HTTP_FLAG } from '../service-command.js';

export function registerDashboard(program: Command): void {
  const cmd = program
    .command('dashboard')
    .description(
      'live charts of the whole pipeline from Prometheus (warm path, caches, race, ingest, compression, origin); or the same panels as a Grafana dashboard',
    );
  daemonCommand(cmd, {
    name: 'serve',
    isDefault: true,
    description: 'serve the dashboard page (default)',
    configHelp: 'dashboard config (JSON); default: 127.0.0.1:9460, Prometheus at http://127.0.0.1:9090',
    flags: [
      HTTP_FLAG,
      { flags: '--prometheus <url>', description: "Prometheus's base URL", path: 'prometheus' },
      { flags: '--range <s>', description: 'time range shown first, in seconds', path: 'rangeS', parse: intArg(60, 7 * 86_400) },
      { flags: '--refresh <s>', description: 'redraw every this many seconds', path: 'refreshS', parse: intArg(1, 3600) },
    ],
    load: loadDashboardConfig,
    create: (c) => {
      const log = createLogger('dashboard', c.log.level);
      return { service: new DashboardServer(c, { logger: log }), log, graceMs: c.shutdownGraceMs };
    },
  });
  cmd
    .command('grafana')
    .description('print the dashboard as Grafana dashboard JSON (import it, then pick the Prometheus data source)')
    .option('-o, --out <file>', 'write it here instead')
    .action((o: { out?: string }) => {
      const text = `${JSON.stringify(grafanaDashboard(), null, 2)}\n`;
      if (o.out) writeFileSync(o.out, text);
      else process.stdout.write(text);
    });
}
