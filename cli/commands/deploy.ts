import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEPLOY_DEFAULTS, renderHost, writeHost, type DeployOptions } from '../../deploy/index.js';
import { HearthError } from '../../common/index.js';
import { defaultTopology, loadTopology, placements, type Topology } from '../../topology/index.js';

interface DeployOpts {
  topology?: string;
  spread?: boolean;
  json?: boolean;
}

/** The topology to deploy: a file, or `--spread`, the default stack spread over its hosts (`stack up --hosts`). */
function topologyOf(o: DeployOpts): Topology {
  if (o.topology) return loadTopology(o.topology);
  if (o.spread)
    return defaultTopology(DEPLOY_DEFAULTS.state + '/corpus', { resizeWorkers: 2, kafkaNodes: 3, volumes: `${DEPLOY_DEFAULTS.state}/volumes`, hosts: true });
  throw new HearthError('HEARTH_ERR_INVALID', 'a topology is needed: --topology <file> (with `hosts`), or --spread for the default stack spread over hosts');
}

export function registerDeploy(program: Command): void {
  const cmd = program.command('deploy').description('a topology on real machines: systemd units and configs for each host (docs/many-hosts.md)');
  const common = (c: Command): Command =>
    c
      .option('-t, --topology <file>', 'the topology, naming its hosts')
      .option(
        '--spread',
        'instead of a file: the default stack spread over hosts (three Kafka nodes, the volumes store), as `hearth stack up --hosts` runs it',
      );
  common(cmd.command('hosts').description('each host of the topology and the daemons on it'))
    .option('--json', 'machine-readable')
    .action((o: DeployOpts) => {
      const t = topologyOf(o);
      const byHost = (t.hosts ?? []).map((h) => ({
        ...h,
        daemons: placements(t)
          .filter((p) => p.host === h.name)
          .map((p) => p.daemon),
      }));
      process.stdout.write(
        o.json
          ? `${JSON.stringify(byHost)}\n`
          : byHost.map((h) => `${h.name.padEnd(15)} ${h.address.padEnd(15)} ${h.daemons.join(' ') || '(nothing)'}\n`).join(''),
      );
    });
  common(cmd.command('render').description("write one host's systemd units, configs, install.sh and README into a directory"))
    .requiredOption('--host <name>', 'the host, by its name in the topology')
    .option('-o, --out <dir>', 'where to write (default: ./hearth-deploy-<host>)')
    .option('--prefix <dir>', 'where Hearth is installed on the host (a checkout with infra/setup.sh run)', DEPLOY_DEFAULTS.prefix)
    .option('--etc <dir>', 'config directory on the host', DEPLOY_DEFAULTS.etc)
    .option('--state <dir>', 'state directory on the host', DEPLOY_DEFAULTS.state)
    .option('--user <name>', 'the system user the daemons run as', DEPLOY_DEFAULTS.user)
    .option('--node <path>', "node's path on the host", DEPLOY_DEFAULTS.node)
    .action((o: DeployOpts & DeployOptions & { out?: string }) => {
      const options: DeployOptions = { host: o.host, prefix: o.prefix, etc: o.etc, state: o.state, user: o.user, node: o.node };
      const r = renderHost(topologyOf(o), options);
      const out = resolve(o.out ?? `hearth-deploy-${o.host}`);
      const written = writeHost(r, options, out);
      process.stdout.write(
        `${r.host} (${r.address}): ${r.units.length} units, ${written.length} files in ${out}; install there with: sh install.sh\n${r.notes.map((n) => `note: ${n}\n`).join('')}`,
      );
    });
}
