import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CephCluster } from '../../ceph/index.js';
import { intArg, portArg } from '../args.js';
import { DEFAULT_STATE } from './stack.js';

interface CephOpts {
  state: string;
  monPort: number;
  rgwPort: number;
  metricsPort: number;
  osds: number;
}

/** Where `hearth stack up --store ceph` keeps its cluster, so `hearth ceph status` finds it unless told otherwise. */
const DEFAULT_CEPH_STATE = join(DEFAULT_STATE, 'ceph');

export function registerCeph(program: Command): void {
  const cmd = program.command('ceph').description("a small Ceph cluster from Debian's packages (monitor, manager, OSDs, RADOS Gateway): the store on S3");
  const common = (c: Command): Command =>
    c
      .option('--state <dir>', "state directory (config, keyrings, the OSDs' block files, logs, pids)", process.env.HEARTH_CEPH_STATE ?? DEFAULT_CEPH_STATE)
      .option('--mon-port <port>', "the monitor's port", portArg, 3300)
      .option('--rgw-port <port>', 'the S3 endpoint (RADOS Gateway)', portArg, 7480)
      .option('--metrics-port <port>', "the manager's Prometheus module", portArg, 9283)
      .option('--osds <n>', 'OSDs, each under a CRUSH host of its own', intArg(3, 16), 4);
  const cluster = (o: CephOpts): CephCluster =>
    new CephCluster({ dir: resolve(o.state), monPort: o.monPort, rgwPort: o.rgwPort, metricsPort: o.metricsPort, osds: o.osds });
  const where = (c: CephCluster) => ({ s3: c.endpoint, bucket: c.bucket, store: c.storeSpec, metrics: `http://${c.metricsAddress}/metrics`, dir: c.dir });
  common(
    cmd.command('up').description('make the cluster if there is none, start what is not running, wait until every placement group is active (idempotent)'),
  ).action(async (o: CephOpts) => {
    const c = cluster(o);
    const started = Date.now();
    await c.start();
    process.stdout.write(`${JSON.stringify({ ceph: { ...where(c), startedInMs: Date.now() - started, status: await c.status() } })}\n`);
  });
  common(cmd.command('down').description('stop every daemon of the cluster; its data stays for the next up')).action(async (o: CephOpts) => {
    await cluster(o).stop();
  });
  common(cmd.command('status').description('health, OSDs up and in, placement groups, degraded objects, capacity, as JSON')).action(async (o: CephOpts) => {
    const c = cluster(o);
    const running = c.running();
    process.stdout.write(`${JSON.stringify({ ceph: { ...where(c), running, ...(running ? { status: await c.status() } : {}) } })}\n`);
  });
}
