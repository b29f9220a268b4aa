/**
 * One real Ceph cluster (a monitor, a manager, four OSDs, the RADOS Gateway) shared by
 * every test that needs it, stopped and removed when the run ends. Where this process may
 * make test hosts (root), each OSD runs on a host of its own (a network namespace), so a
 * test can kill an OSD's host whole or cut its link; the monitor, manager and gateway run
 * on the test network's gateway address. Its first start takes about half a minute
 * (docs/testing.md).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CephCluster } from '../../ceph/index.js';
import { canMakeHosts, TestNetwork } from '../../netns/index.js';
import { sharedOnce } from './shared-once.js';
import { freePorts } from './test-stack.js';

const OSDS = 4;

const cluster = sharedOnce(
  async () => {
    const net = (await canMakeHosts()) ? new TestNetwork({ tag: 'ceph', subnet: 3, hosts: Array.from({ length: OSDS }, (_, i) => `osd${i}`) }) : undefined;
    await net?.up();
    const [monPort, rgwPort, metricsPort] = await freePorts(3);
    const osdHosts = net ? [...net.hosts.values()].map((h) => ({ address: h.address, wrap: ['ip', 'netns', 'exec', h.ns] })) : undefined;
    // A short heartbeat grace, so a test that kills an OSD sees it marked down in seconds.
    const c = new CephCluster({
      dir: mkdtempSync(join(tmpdir(), 'hearth-ceph-')),
      host: net?.gateway ?? '127.0.0.1',
      monPort,
      rgwPort,
      metricsPort,
      osds: OSDS,
      osdHosts,
      heartbeatGraceS: 6,
    });
    process.once('exit', () => {
      for (const d of c.daemons()) {
        const pid = c.pid(d);
        if (pid) process.kill(pid, 'SIGKILL');
      }
    });
    await c.start();
    return { cluster: c, net };
  },
  async ({ cluster: c, net }) => {
    await c.destroy();
    await net?.down();
  },
);

/** The shared cluster, running: a stack test that ran it as its store stops it with the stack, and the next test finds it started again (its data kept; seconds). */
export async function testCeph(): Promise<CephCluster> {
  const { cluster: c } = await cluster.get();
  if (c.daemons().some((d) => c.pid(d) === undefined)) await c.start();
  return c;
}

/** The test hosts the shared cluster's OSDs run on (`osd0`…), when this process could make them. */
export async function testCephHosts(): Promise<TestNetwork | undefined> {
  return (await cluster.get()).net;
}

export const stopTestCeph = (): Promise<void> => cluster.stop();
