/**
 * Which daemon of a topology runs on which host: the one whose address its own addresses
 * have. One definition for `stack up --hosts` (each host a network namespace) and
 * `hearth deploy render --host NAME` (each host a machine), so they cannot disagree.
 */
import { HearthError } from '../common/index.js';
import { splitAddress, warmers, type Topology } from './topology.js';

export interface Placement {
  /** The daemon's name: the stack's (`warmer`, `resize-0`, `kafka-2`, …); nginx instances are `nginx-<instance>`; `ceph` is the monitor, manager and gateway, `ceph-osd-<n>` an OSD. */
  daemon: string;
  /** Every address it listens on (all on one host). */
  addresses: string[];
  /** Its host's name; absent where the topology names no hosts. */
  host?: string;
}

/** Every daemon of the topology with its addresses, in the stack's start order; a Ceph OSD, which has no address of its own in the topology, with its host. */
export function daemonAddresses(t: Topology): { daemon: string; addresses: string[]; host?: string }[] {
  const p = t.pipeline;
  const k = t.kafka;
  const c = t.ceph;
  const out: { daemon: string; addresses: (string | undefined)[]; host?: string }[] = [
    ...(t.store ? [{ daemon: 'store', addresses: [t.store.listen, t.store.metrics] }] : []),
    ...(c
      ? [{ daemon: 'ceph', addresses: [c.mon, c.s3, c.metrics] }, ...(c.osdHosts ?? []).map((host, i) => ({ daemon: `ceph-osd-${i}`, addresses: [], host }))]
      : []),
    ...(t.origin.service ? [{ daemon: 'origin', addresses: [t.origin.service, t.origin.serviceMetrics] }] : []),
    ...(t.origin.delay ? [{ daemon: 'origin-delay', addresses: [t.origin.delay.listen] }] : []),
    { daemon: 'nginx-origin', addresses: [t.origin.listen] },
    ...t.colos.flatMap((colo) => colo.nodes.map((n, i) => ({ daemon: `nginx-cache-${colo.name}-${i}`, addresses: [n] }))),
    { daemon: 'nginx-proxy', addresses: [t.proxy.listen] },
    ...warmers(t).map((w) => ({ daemon: w.name, addresses: [w.udp, w.http] })),
    ...(k ? [k, ...(k.peers ?? [])].map((n, i) => ({ daemon: `kafka-${i + 1}`, addresses: [n.listen, n.controller] })) : []),
    ...(p
      ? [
          { daemon: 'identity', addresses: [p.identity] },
          ...p.resizeWorkers.map((a, i) => ({ daemon: `resize-${i}`, addresses: [a] })),
          { daemon: 'takedown', addresses: [p.takedown] },
          ...t.colos.map((colo, i) => ({ daemon: `purge-${colo.name}`, addresses: [p.purgers[i]] })),
          { daemon: 'perceptual', addresses: [p.perceptual] },
          { daemon: 'cache-logs', addresses: [p.cacheLogs] },
          { daemon: 'race', addresses: [p.race] },
          { daemon: 'textfiles', addresses: [p.textfiles] },
          { daemon: 'prometheus', addresses: [p.prometheus.listen] },
          { daemon: 'dashboard', addresses: [p.dashboard] },
        ]
      : []),
  ];
  return out.map((d) => ({ daemon: d.daemon, addresses: d.addresses.filter((a): a is string => a !== undefined), ...(d.host ? { host: d.host } : {}) }));
}

/** Every daemon with its host (by the IP of its addresses). */
export function placements(t: Topology): Placement[] {
  const byIp = new Map((t.hosts ?? []).map((h) => [h.address, h.name]));
  return daemonAddresses(t).map((d) => {
    const host = d.host ?? byIp.get(splitAddress(d.addresses[0]!).host);
    return { ...d, ...(host ? { host } : {}) };
  });
}

/** What `placements` cannot place: a daemon on no host, or with addresses on two. */
export function placementProblems(t: Topology): string[] {
  if (!t.hosts) return [];
  const byIp = new Map(t.hosts.map((h) => [h.address, h.name]));
  const problems: string[] = [];
  for (const d of daemonAddresses(t).filter((x) => x.host === undefined)) {
    const hosts = new Set(d.addresses.map((a) => byIp.get(splitAddress(a).host) ?? `no host (${a})`));
    if ([...hosts].some((h) => h.startsWith('no host')))
      problems.push(`${d.daemon}: ${d.addresses.filter((a) => !byIp.has(splitAddress(a).host)).join(', ')} on no host of hosts`);
    else if (hosts.size > 1) problems.push(`${d.daemon}: its addresses are on ${[...hosts].join(' and ')}; one daemon runs on one host`);
  }
  return problems;
}

/** The daemons on one host; a clear error for a host the topology does not name. */
export function daemonsOn(t: Topology, host: string): Placement[] {
  if (!t.hosts?.some((h) => h.name === host))
    throw new HearthError(
      'HEARTH_ERR_INVALID',
      `no host ${JSON.stringify(host)} in the topology (${t.hosts ? `hosts: ${t.hosts.map((h) => h.name).join(', ')}` : 'it names no hosts'})`,
    );
  return placements(t).filter((p) => p.host === host);
}
