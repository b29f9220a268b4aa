/**
 * Hosts on one machine: each a Linux network namespace with its own address on a bridge
 * (Debian's iproute2: `ip netns`, a veth pair per host), so a host can be killed whole
 * (every process in it) or cut off from the network (its link down) while the others go
 * on, as a machine of a real deployment would be. For the tests and `stack up --hosts`.
 *
 * Addresses come from 198.18.0.0/15, the range set aside for testing network equipment
 * (RFC 2544), one /24 per network: nothing on it is anyone else's, and namespaces have no
 * route beyond their bridge, so nothing ever leaves the machine. The bridge holds `.1`
 * in the machine's own namespace (what runs outside every host reaches them, and they it,
 * there); hosts take `.10` and up.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { HearthError, runTied } from '../common/index.js';

export interface TestHost {
  name: string;
  /** Its namespace (`ip netns exec <ns> …`). */
  ns: string;
  address: string;
  /** Its end of the veth pair in the machine's namespace: down cuts the host off. */
  link: string;
}

export interface TestNetworkOptions {
  /** A short tag naming this network's bridge, links and namespaces (letters and digits, at most 4). */
  tag: string;
  /** Which /24 of 198.18.0.0/15: 0..511. */
  subnet: number;
  /** Names, each given the next address from `.10`, or names with their own address in the subnet (`.2` to `.254`). */
  hosts: readonly (string | { name: string; address: string })[];
}

const ip = async (...args: string[]): Promise<string> => {
  try {
    return (await runTied('ip', args)).stdout;
  } catch (err) {
    throw new HearthError('HEARTH_ERR_NETNS', `ip ${args.join(' ')}: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`, {
      cause: err,
    });
  }
};

/** Whether this process may make namespaces (root, with iproute2). */
export async function canMakeHosts(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await runTied('ip', ['netns', 'list']);
    return true;
  } catch {
    return false;
  }
}

export class TestNetwork {
  readonly bridge: string;
  /** The machine's own address on the bridge. */
  readonly gateway: string;
  readonly hosts: ReadonlyMap<string, TestHost>;

  constructor(readonly o: TestNetworkOptions) {
    if (!/^[a-z0-9]{1,4}$/.test(o.tag)) throw new HearthError('HEARTH_ERR_INVALID', `network tag ${JSON.stringify(o.tag)}: 1 to 4 lowercase letters or digits`);
    if (!Number.isInteger(o.subnet) || o.subnet < 0 || o.subnet > 511)
      throw new HearthError('HEARTH_ERR_INVALID', `subnet ${o.subnet}: 0..511 (a /24 of 198.18.0.0/15)`);
    if (o.hosts.length > 200) throw new HearthError('HEARTH_ERR_INVALID', 'at most 200 hosts on one network');
    const base = `198.${18 + (o.subnet >> 8)}.${o.subnet & 255}`;
    this.bridge = `hth${o.tag}br`;
    this.gateway = `${base}.1`;
    this.hosts = new Map(
      o.hosts.map((h, i) => {
        const { name, address } = typeof h === 'string' ? { name: h, address: `${base}.${10 + i}` } : h;
        const last = Number(address.slice(base.length + 1));
        if (!address.startsWith(`${base}.`) || !Number.isInteger(last) || last < 2 || last > 254)
          throw new HearthError('HEARTH_ERR_INVALID', `host ${name}: ${address} is not a host address of ${base}.0/24 (.2 to .254; .1 is the machine's)`);
        return [name, { name, ns: `hearth-${o.tag}-${name}`, address, link: `hth${o.tag}v${i}` }];
      }),
    );
    if (new Set([...this.hosts.values()].map((h) => h.address)).size !== this.hosts.size)
      throw new HearthError('HEARTH_ERR_INVALID', `two hosts of network ${o.tag} share an address`);
  }

  host(name: string): TestHost {
    const h = this.hosts.get(name);
    if (!h) throw new HearthError('HEARTH_ERR_INVALID', `no host ${JSON.stringify(name)} on network ${this.o.tag}`);
    return h;
  }

  /** Makes the bridge and every host (what exists already is made again from nothing). */
  async up(): Promise<void> {
    await this.down();
    await ip('link', 'add', this.bridge, 'type', 'bridge');
    await ip('addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
    for (const h of this.hosts.values()) {
      await ip('netns', 'add', h.ns);
      await ip('link', 'add', h.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns);
      await ip('link', 'set', h.link, 'master', this.bridge, 'up');
      await ip('-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0');
      await ip('-n', h.ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    }
  }

  /** Whether the bridge and every host exist (made by an earlier `up`). */
  exists(): boolean {
    const existing = new Set(existsSync('/run/netns') ? readdirSync('/run/netns') : []);
    return existsSync(`/sys/class/net/${this.bridge}`) && [...this.hosts.values()].every((h) => existing.has(h.ns));
  }

  /** `cmd` run on a host: in its namespace, detached from nothing (the caller owns the child). */
  spawn(host: string, cmd: string, args: readonly string[], o: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.host(host).ns, cmd, ...args], o);
  }

  /** The pids of every process running on a host. */
  async pids(host: string): Promise<number[]> {
    return (await ip('netns', 'pids', this.host(host).ns)).split('\n').filter(Boolean).map(Number);
  }

  /** The host dies: every process in it killed at once (SIGKILL). Its address stays, as a machine's would while it reboots. */
  async kill(host: string): Promise<number> {
    const pids = await this.pids(host);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    return pids.length;
  }

  /** The host's link down: its processes run on, and nothing reaches them or leaves them. */
  async cut(host: string): Promise<void> {
    await ip('link', 'set', this.host(host).link, 'down');
  }

  async mend(host: string): Promise<void> {
    await ip('link', 'set', this.host(host).link, 'up');
  }

  /** Kills every host's processes and removes the hosts and the bridge. */
  async down(): Promise<void> {
    const existing = new Set(existsSync('/run/netns') ? readdirSync('/run/netns') : []);
    for (const h of this.hosts.values()) {
      if (!existing.has(h.ns)) continue;
      await this.kill(h.name);
      await ip('netns', 'del', h.ns);
    }
    await ip('link', 'del', this.bridge).catch(() => undefined);
  }
}
