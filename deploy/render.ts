/**
 * One host of a topology as systemd units and config files (`hearth deploy render --host
 * NAME`): the same daemons with the same command lines and configs that the local stack
 * starts (stack/daemons.ts, proxy-config, kafka), placed by topology/hosts.ts, with paths
 * moved to where a machine keeps them (`/etc/hearth`, `/var/lib/hearth`, Hearth
 * installed under a prefix). Nothing here starts anything: `install.sh` in the output
 * does, on the host, and docs/many-hosts.md says how to roll a topology out.
 */
import { join } from 'node:path';
import { HEARTH_HOME } from '../common/index.js';
import { KafkaBroker, clusterIdFor, clusterNodes, KAFKA_LIBS, type BrokerOptions } from '../kafka/index.js';
import { NginxInstance, renderAll } from '../proxy-config/index.js';
import { daemonSpecs, type DaemonPaths } from '../stack/index.js';
import { s3CredentialsFile } from '../store/index.js';
import { daemonsOn, placements, splitAddress, type Topology } from '../topology/index.js';

export interface DeployOptions {
  host: string;
  /** Where Hearth is installed on the host: a checkout with `infra/setup.sh` run (dist, node_modules, Kafka's jars). */
  prefix: string;
  /** Config directory (a sub-directory per daemon). */
  etc: string;
  /** State directory (a sub-directory per daemon: data, caches, logs). */
  state: string;
  /** The system user the daemons run as. */
  user: string;
  /** Node's path on the host. */
  node: string;
}

export const DEPLOY_DEFAULTS: Omit<DeployOptions, 'host'> = {
  prefix: '/opt/hearth',
  etc: '/etc/hearth',
  state: '/var/lib/hearth',
  user: 'hearth',
  node: '/usr/bin/node',
};

export interface Unit {
  /** `hearth-<daemon>` (the file is `<name>.service`). */
  name: string;
  daemon: string;
  description: string;
  /** Run in order before `exec`, each to success. */
  pre: string[][];
  exec: string[];
  /** nginx daemonises itself: systemd follows it by its pid file. */
  pidFile?: string;
  /** Where it listens, for the README. */
  addresses: string[];
}

export interface RenderedFile {
  /** Absolute path on the host. */
  path: string;
  content: string;
  mode: number;
  /** Installed only where the host has none (an operator's file, such as the blocklist). */
  keep?: boolean;
}

export interface RenderedHost {
  host: string;
  address: string;
  units: Unit[];
  files: RenderedFile[];
  /** What the operator must know or do beyond `install.sh`. */
  notes: string[];
}

/** The host's units and files; a clear error for a host the topology does not name. */
export function renderHost(t: Topology, o: DeployOptions): RenderedHost {
  const placed = daemonsOn(t, o.host);
  const here = new Set(placed.map((p) => p.daemon));
  const address = t.hosts?.find((h) => h.name === o.host)?.address as string;
  // Paths into this checkout (the CLI, mtail's programs, Kafka's jars) are where the host installs Hearth.
  const relocate = (s: string): string => s.split(HEARTH_HOME).join(`${o.prefix.replace(/\/$/, '')}/`);
  const paths: DaemonPaths = { config: (d) => join(o.etc, d), state: (d) => join(o.state, d), nginx: join(o.state, 'nginx') };
  const addressesOf = new Map(placed.map((p) => [p.daemon, p.addresses]));
  const units: Unit[] = [];
  const files: RenderedFile[] = [];
  const notes: string[] = [];
  const unit = (daemon: string, description: string, exec: string[], pre: string[][] = [], pidFile?: string): void => {
    units.push({
      name: `hearth-${daemon}`,
      daemon,
      description,
      exec: exec.map(relocate),
      pre: pre.map((c) => c.map(relocate)),
      addresses: addressesOf.get(daemon) ?? [],
      ...(pidFile ? { pidFile } : {}),
    });
  };
  const mkdir = (...dirs: string[]): string[] => ['/bin/mkdir', '-p', ...dirs];

  const nginx = renderAll(t, paths.nginx).filter((i) => here.has(`nginx-${i.name}`));
  for (const inst of nginx) {
    const n = new NginxInstance(inst);
    files.push({ path: n.conf, content: relocate(inst.config), mode: 0o644 });
    const [bin, ...args] = n.command();
    unit(
      `nginx-${inst.name}`,
      `Hearth's ${inst.role === 'cache' ? `cache node ${inst.name}` : inst.role === 'proxy' ? 'keep-alive proxy' : 'origin front'} (nginx)`,
      [bin, ...args],
      [mkdir(...['logs', 'tmp', 'cache'].map((d) => join(inst.dir, d))), [bin, ...args, '-t', '-q']],
      n.pidFile,
    );
  }

  const k = t.kafka;
  if (k) {
    const nodes = [k, ...(k.peers ?? [])].map((n) => ({
      host: splitAddress(n.listen).host,
      port: splitAddress(n.listen).port,
      controllerPort: splitAddress(n.controller).port,
    }));
    const clusterId = clusterIdFor(nodes);
    const dir = (i: number): string => paths.state(`kafka-${i + 1}`);
    const options: BrokerOptions[] = k.peers ? clusterNodes(nodes, clusterId, { dir, heapMb: 1024 }) : [{ dir: dir(0), ...nodes[0]!, heapMb: 1024 }];
    options.forEach((b, i) => {
      const daemon = `kafka-${i + 1}`;
      if (!here.has(daemon)) return;
      const broker = new KafkaBroker(b);
      for (const f of broker.configFiles()) files.push({ ...f, mode: 0o644 });
      const [java, ...args] = broker.command(KAFKA_LIBS);
      unit(
        daemon,
        `Hearth's Kafka node ${i + 1} of ${options.length} (KRaft broker and controller)`,
        [`/usr/bin/${java}`, ...args],
        [mkdir(b.dir), ['/usr/bin/java', ...broker.formatCommand(clusterId, KAFKA_LIBS).slice(1)]],
      );
    });
  }

  const specs = daemonSpecs(t, paths).filter((s) => here.has(s.name));
  for (const spec of specs) {
    for (const f of spec.files) files.push({ path: f.path, content: relocate(f.content), mode: 0o600, ...(f.keep ? { keep: true } : {}) });
    const exec = spec.exe ? [`/usr/bin/${spec.exe}`, ...spec.args] : [o.node, join(HEARTH_HOME, 'dist', 'cli', 'hearth.js'), ...spec.args];
    unit(spec.name, `Hearth's ${spec.name}`, exec, [mkdir(paths.state(spec.name), ...spec.dirs)]);
  }

  const c = t.ceph;
  for (const osd of placed.filter((p) => p.daemon.startsWith('ceph-osd-')))
    notes.push(`OSD ${osd.daemon.slice(9)} of the Ceph cluster goes on this host (deploy it with Ceph's own tooling, as its own CRUSH host).`);
  if (c && here.has('ceph'))
    notes.push(
      `The Ceph cluster (monitor ${c.mon}, S3 on ${c.s3}) is not rendered: deploy it with Ceph's own tooling (cephadm, or its manual deployment), each OSD on a host of its own, pools of 3 copies.`,
    );
  if (c && [...units.map((u) => u.exec.join(' ')), ...files.map((f) => f.content)].some((text) => text.includes('s3+http://')))
    notes.push(
      `The daemons here reach the bucket ${c.bucket} with the S3 keys in ${s3CredentialsFile(c.dir)}: put the cluster's Hearth user's keys there ({"accessKeyId": …, "secretAccessKey": …}, readable by ${o.user} only).`,
    );
  // What reads cache nodes' files (the purgers, mtail, the race join): where those nodes are on another host, say so.
  const nodeHost = new Map(placements(t).map((p) => [p.daemon, p.host]));
  for (const spec of specs) {
    if (!spec.reads) continue;
    const away = spec.reads.nodes.filter((n) => nodeHost.get(n) !== o.host);
    if (away.length)
      notes.push(
        `${spec.name} reads the files of ${away.map((n) => `${n.slice('nginx-'.length)} (on ${nodeHost.get(n)})`).join(', ')}: ${spec.reads.beside ? 'it must run where they are: place it on that host' : "ship those access logs to this host's same paths (rsyslog, or a shared mount), or place it on the cache host"}.`,
      );
  }
  return { host: o.host, address, units, files, notes };
}
