/**
 * `stack up --hosts`: each host of the topology a network namespace on this machine
 * (netns/), so a host can be killed whole or cut off while the rest runs on. The
 * topology's host addresses must be host addresses of one /24 of the test network
 * (198.18.0.0/15); the machine itself is `.1` on it.
 */
import { HearthError } from '../common/index.js';
import { TestNetwork, type TestHost } from '../netns/index.js';
import { placements, type Topology } from '../topology/index.js';

const TEST_NET = /^198\.(18|19)\.(\d{1,3})\.(\d{1,3})$/;

/** The network of test hosts for a topology's `hosts`, not yet made (`up()` makes it). */
export function testHostsFor(t: Topology, tag: string): TestNetwork {
  if (!t.hosts)
    throw new HearthError(
      'HEARTH_ERR_INVALID',
      'stack up --hosts: the topology names no hosts (add `hosts`, each daemon on the host of its address; docs/many-hosts.md)',
    );
  const subnets = new Set<number>();
  for (const h of t.hosts) {
    const m = TEST_NET.exec(h.address);
    if (!m)
      throw new HearthError(
        'HEARTH_ERR_INVALID',
        `stack up --hosts: host ${h.name}'s address ${h.address} is not on the test network 198.18.0.0/15 (test hosts never take an address anyone else may use)`,
      );
    subnets.add((Number(m[1]) - 18) * 256 + Number(m[2]));
  }
  if (subnets.size > 1)
    throw new HearthError('HEARTH_ERR_INVALID', `stack up --hosts: the hosts' addresses span ${subnets.size} /24s; test hosts share one bridge, one /24`);
  return new TestNetwork({ tag, subnet: [...subnets][0]!, hosts: t.hosts.map((h) => ({ name: h.name, address: h.address })) });
}

/** What runs a daemon on its host: `ip netns exec <ns>`, or nothing without test hosts. */
export function wrapperFor(t: Topology, net: TestNetwork | undefined): (daemon: string) => string[] {
  if (!net) return () => [];
  const hostOf = new Map(placements(t).map((p) => [p.daemon, p.host]));
  return (daemon) => {
    const host = hostOf.get(daemon);
    if (!host) throw new HearthError('HEARTH_ERR_INVALID', `${daemon}: on no host of the topology`);
    const h: TestHost = net.host(host);
    return ['ip', 'netns', 'exec', h.ns];
  };
}
