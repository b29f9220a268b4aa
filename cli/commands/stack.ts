import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { defaultTopology, loadTopology, parseTopology, type Topology } from '../../topology/index.js';
import { Stack, formatStatus } from '../../stack/index.js';
import { intArg } from '../args.js';
import { HearthError } from '../../common/index.js';

export const DEFAULT_STATE = process.env.HEARTH_STATE_DIR ?? '.state/stack';
const DEFAULT_CORPUS = process.env.HEARTH_CORPUS ?? '.cache/corpus';

interface StackOpts {
  state: string;
  topology?: string;
  json?: boolean;
  originDelayMs?: number;
  kafka?: boolean;
  warmOnly?: boolean;
  resizeWorkers: number;
  store?: 'dir' | 'volumes' | 'ceph';
  kafkaNodes: number;
  hosts?: boolean;
}

/** The recorded topology with what `up`'s flags ask for on top: `--kafka` adds a broker to a running stack. */
function withFlags(t: Topology, o: StackOpts): Topology {
  const raw = JSON.parse(JSON.stringify(t)) as Record<string, unknown> & { origin: Record<string, unknown> };
  if ((o.kafka || !o.warmOnly) && !t.kafka) raw.kafka = {};
  if (!o.warmOnly && !t.pipeline) raw.pipeline = { resizeWorkers: Array.from({ length: o.resizeWorkers }, (_, i) => `127.0.0.1:${9470 + i}`) };
  if (o.originDelayMs !== undefined) raw.origin.delay = { ms: o.originDelayMs, listen: t.origin.delay?.listen ?? '127.0.0.1:8082' };
  return parseTopology(raw, 'topology');
}

function open(o: StackOpts, forUp: boolean): Stack | undefined {
  const state = resolve(o.state);
  const recorded = Stack.load(state);
  const hosts = { hosts: o.hosts ?? recorded?.options.hosts };
  if (o.topology) return new Stack(state, loadTopology(o.topology), hosts);
  if (recorded && !forUp) return recorded;
  // A stack on hosts starts again as recorded: what a flag would add has no host to go on.
  if (recorded) return new Stack(state, recorded.topology.hosts ? recorded.topology : withFlags(recorded.topology, o), hosts);
  const topology = defaultTopology(resolve(DEFAULT_CORPUS), {
    originDelayMs: o.originDelayMs,
    kafka: o.kafka,
    resizeWorkers: o.warmOnly ? undefined : o.resizeWorkers,
    kafkaNodes: o.kafkaNodes,
    volumes: o.store === 'volumes' ? join(state, 'volumes') : undefined,
    ceph: o.store === 'ceph' ? join(state, 'ceph') : undefined,
    hosts: o.hosts,
  });
  return forUp ? new Stack(state, topology, hosts) : undefined;
}

export function registerStack(program: Command): void {
  const cmd = program
    .command('stack')
    .description(
      'the local stack on 127.0.0.1: origin, regional caches, keep-alive proxy (nginx), warmer; and the pipeline: Kafka, resize and perceptual workers, Prometheus',
    );
  const common = (c: Command): Command =>
    c
      .option('--state <dir>', 'state directory (configs, pids, logs, caches)', DEFAULT_STATE)
      .option('-t, --topology <file>', "topology (default: two colos, the design brief's ports)");
  common(cmd.command('up').description('start what is not running (idempotent)'))
    .option('--json', 'print status as JSON')
    .option('--warm-only', 'default topology: the warm path only (origin, caches, proxy, warmer), without Kafka, the workers and Prometheus')
    .option('--kafka', 'with --warm-only: a single-node Kafka broker on 127.0.0.1:9092 (controller 9093) all the same')
    .addOption(
      new Option(
        '--kafka-nodes <n>',
        'default topology: 1, the single-node broker; or 3, a KRaft cluster (127.0.0.1:9092, 9094, 9096; controllers one port above each) holding every topic three times',
      )
        .choices(['1', '3'])
        .argParser(Number)
        .default(1),
    )
    .option('--resize-workers <n>', 'default topology: resize workers in the consumer group (metrics on 127.0.0.1:9470 and up)', intArg(1, 16), 2)
    .option('--origin-delay-ms <ms>', 'default topology: a latency proxy adding this much to every origin fetch (on 127.0.0.1:8082)', intArg(0, 600_000))
    .addOption(
      new Option(
        '--store <driver>',
        'default topology: the store every tier uses: volumes (the store service on 127.0.0.1:8084, the corpus imported into <state>/volumes; what every command reaches by default) dir (the corpus directory, served from disk), or ceph (a Ceph cluster of four OSDs in <state>/ceph, every tier on its bucket over S3, the corpus imported)',
      )
        .choices(['dir', 'volumes', 'ceph'])
        .default('volumes'),
    )
    .option(
      '--hosts',
      "each host of the topology's `hosts` a network namespace on this machine (root), every daemon on its host; default topology: the origin, each colo, the edge (proxy and warmer), each Kafka node, the workers and what watches each on a host of 198.18.100.0/24",
    )
    .action(async (o: StackOpts) => {
      const s = await (open(o, true) as Stack).up();
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : formatStatus(s));
    });
  common(cmd.command('down').description('stop what `up` started')).action(async (o: StackOpts) => {
    await open(o, false)?.down();
  });
  const host = cmd.command('host').description('failure drills on a stack up with --hosts: a host killed whole, or its link cut and mended');
  const drill = (name: string, description: string, act: (net: NonNullable<Stack['network']>, h: string) => Promise<unknown>): void => {
    common(host.command(`${name} <host>`).description(description)).action(async (h: string, o: StackOpts) => {
      const net = open(o, false)?.network;
      if (!net) throw new HearthError('HEARTH_ERR_INVALID', `no stack up with --hosts in ${resolve(o.state)}`);
      await act(net, h);
    });
  };
  drill('kill', 'every process on the host killed at once (SIGKILL), as a machine dying; `stack up` starts them again', (net, h) => net.kill(h));
  drill('cut', "the host's link down: its processes run on, nothing reaches them", (net, h) => net.cut(h));
  drill('mend', "the host's link up again", (net, h) => net.mend(h));
  common(cmd.command('status').description('what runs where'))
    .option('--json', 'machine-readable')
    .action(async (o: StackOpts) => {
      const stack = open(o, false);
      if (!stack) {
        process.stdout.write(o.json ? '{"running":false}\n' : `no stack in ${resolve(o.state)}; start one with: hearth stack up\n`);
        return;
      }
      const s = await stack.checkedStatus();
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : formatStatus(s));
    });
}
