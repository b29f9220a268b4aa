/**
 * A real Ceph cluster that Hearth starts itself from Debian's packages (ceph-mon, ceph-mgr,
 * ceph-osd, radosgw), with no cephadm and no containers: one monitor, one manager, OSDs
 * with file-backed BlueStore, and the RADOS Gateway serving S3 on a loopback port. For the
 * stack (`hearth ceph up`, `hearth stack up --store ceph`) and the tests; production runs
 * its own cluster and gives Hearth an S3 endpoint.
 *
 * Every OSD is under a CRUSH host of its own (`hearth-osd-N`): the default rule puts
 * replicas on distinct hosts, so OSDs under one host would leave pools of size 3
 * undersized forever. Pools are size 3, min_size 2, with 8 placement groups each.
 * Sized for a 2-core machine: the smallest OSD memory target Ceph allows (896 MiB), few
 * messenger threads, no dashboard or restful module.
 *
 * Bootstrap order is Ceph's manual deployment: keyrings, monmap, `ceph-mon --mkfs`, the
 * monitor; the manager; per OSD `ceph osd new` and `ceph-osd --mkfs`; radosgw; an S3 user
 * and the bucket. Everything lives under one directory; a second `start` finds the
 * cluster made and starts only the daemons that are not running.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { HearthError, isAlive, livePid, runTied, runTiedBuffer } from '../common/index.js';
import { s3CredentialsFile, s3Spec } from '../store/index.js';

export class CephError extends HearthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HEARTH_ERR_CEPH', message, options);
  }
}

export interface CephClusterOptions {
  /** State directory: config, keyrings, the monitor's store, the OSDs' block files, logs, pid files. */
  dir: string;
  /** The address every daemon binds (a loopback address, or a test host's). */
  host?: string;
  /** The monitor's msgr2 port. */
  monPort?: number;
  /** The RADOS Gateway's S3 port. */
  rgwPort?: number;
  /** The manager's Prometheus module. */
  metricsPort?: number;
  osds?: number;
  /** Each OSD's block file (sparse: it takes the disk it holds). */
  osdBytes?: number;
  /** The bucket Hearth's objects go in. */
  bucket?: string;
  /**
   * Each OSD on a host of its own (a test host, netns/): its address, and the command it
   * runs under (`ip netns exec NS`). The monitor, manager and gateway stay on `host`,
   * which the OSDs' hosts must reach (a test network's gateway). Absent: every OSD on `host`.
   */
  osdHosts?: readonly { address: string; wrap: readonly string[] }[];
  /** The command the monitor, manager and gateway (and OSDs without `osdHosts`) run under: `ip netns exec NS` on a test host whose address is `host`. */
  wrap?: readonly string[];
  /**
   * Failure detection for tests that kill OSDs: seconds without a heartbeat before an OSD
   * is marked down (Ceph's default is 20).
   */
  heartbeatGraceS?: number;
}

export interface CephStatus {
  health: string;
  /** Health checks that are not OK, by name: what an operator reads first. */
  checks: Record<string, string>;
  osds: { total: number; up: number; in: number };
  pgs: { total: number; activeClean: number; states: Record<string, number> };
  degradedObjects: number;
  bytes: { used: number; available: number; total: number };
}

/** The daemons, by Ceph's names. */
export type CephDaemon = 'mon.a' | 'mgr.x' | 'client.rgw.a' | `osd.${number}`;

const OSD_MEMORY_TARGET = 896 * 1024 * 1024;

export class CephCluster {
  readonly dir: string;
  readonly host: string;
  readonly monPort: number;
  readonly rgwPort: number;
  readonly metricsPort: number;
  readonly osds: number;
  readonly bucket: string;
  private readonly osdBytes: number;
  private readonly heartbeatGraceS: number;
  private readonly osdHosts: CephClusterOptions['osdHosts'];
  private readonly wrap: readonly string[];

  constructor(o: CephClusterOptions) {
    this.dir = resolve(o.dir);
    this.host = o.host ?? '127.0.0.1';
    this.monPort = o.monPort ?? 3300;
    this.rgwPort = o.rgwPort ?? 7480;
    this.metricsPort = o.metricsPort ?? 9283;
    this.osds = o.osds ?? 4;
    this.osdBytes = o.osdBytes ?? 10 * 2 ** 30;
    this.bucket = o.bucket ?? 'hearth';
    this.heartbeatGraceS = o.heartbeatGraceS ?? 20;
    this.osdHosts = o.osdHosts;
    this.wrap = o.wrap ?? [];
    if (o.osdHosts && o.osdHosts.length !== this.osds) throw new CephError(`osdHosts: one per OSD (${this.osds}), got ${o.osdHosts.length}`);
  }

  get conf(): string {
    return join(this.dir, 'ceph.conf');
  }

  get credentialsFile(): string {
    return s3CredentialsFile(this.dir);
  }

  /** The S3 endpoint, as the RADOS Gateway serves it. */
  get endpoint(): string {
    return `http://${this.host}:${this.rgwPort}`;
  }

  /** The store spec every tier is given (store/s3-store.ts). */
  get storeSpec(): string {
    return this.storeSpecFor(this.bucket);
  }

  storeSpecFor(bucket: string): string {
    return s3Spec(this.endpoint, bucket, this.credentialsFile);
  }

  get metricsAddress(): string {
    return `${this.host}:${this.metricsPort}`;
  }

  /** Every daemon of this cluster. */
  daemons(): CephDaemon[] {
    return ['mon.a', 'mgr.x', ...Array.from({ length: this.osds }, (_, i) => `osd.${i}` as const), 'client.rgw.a'];
  }

  pid(daemon: CephDaemon): number | undefined {
    return livePid(join(this.dir, 'run', `${daemon}.pid`));
  }

  /** `ceph …` against this cluster, as its admin; JSON when `json`. */
  async ceph(args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    return (await this.tool('ceph', ['-c', this.conf, '--connect-timeout', '10', ...args], o)).stdout;
  }

  /** A Ceph tool, under `wrap` when given (an OSD's host). */
  private async tool(
    tool: string,
    toolArgs: string[],
    o: { input?: string; timeoutMs?: number } = {},
    wrap: readonly string[] = [],
  ): Promise<{ stdout: string; stderr: string }> {
    const [cmd, ...args] = [...wrap, tool, ...toolArgs] as [string, ...string[]];
    try {
      if (o.input === undefined) return await runTied(cmd, args, { timeout: o.timeoutMs ?? 60_000, maxBuffer: 1 << 24 });
      // Secrets go on stdin, never on a command line others can read.
      const r = await runTiedBuffer(cmd, args, { input: Buffer.from(o.input), timeout: o.timeoutMs ?? 60_000, maxBuffer: 1 << 24 });
      return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
    } catch (err) {
      const e = err as { stderr?: string | Buffer; code?: unknown; message: string };
      throw new CephError(
        `${cmd} ${args.filter((a, i) => a !== this.conf && args[i + 1] !== this.conf).join(' ')} failed: ${
          String(e.stderr ?? '')
            .trim()
            .slice(-1500) || e.message
        }`,
        { cause: err },
      );
    }
  }

  private writeConf(fsid: string): void {
    const d = this.dir;
    const lines = [
      '# Generated by Hearth (ceph/cluster.ts): a small cluster on one machine.',
      '[global]',
      `fsid = ${fsid}`,
      `mon host = v2:${this.host}:${this.monPort}`,
      'mon initial members = a',
      `public addr = ${this.host}`,
      `cluster addr = ${this.host}`,
      'ms bind msgr1 = false',
      'auth cluster required = cephx',
      'auth service required = cephx',
      'auth client required = cephx',
      'auth allow insecure global id reclaim = false',
      `keyring = ${d}/$name.keyring`,
      `run dir = ${d}/run`,
      `admin socket = ${d}/run/$name.asok`,
      `pid file = ${d}/run/$name.pid`,
      `log file = ${d}/log/$name.log`,
      'osd pool default size = 3',
      'osd pool default min size = 2',
      'osd pool default pg num = 8',
      'osd pool default pgp num = 8',
      'osd pool default pg autoscale mode = off',
      'mon allow pool delete = true',
      // No dashboard and no restful API (it would listen on 8003): the manager's Prometheus
      // module is what Hearth reads. Read once, when the monitor is made.
      'mgr initial modules = prometheus iostat',
      // A monitor's store is small here; the default warnings assume a dedicated disk.
      'mon data avail warn = 2',
      'mon data avail crit = 1',
      // Two cores: fewer messenger threads than a server's defaults.
      'ms async op threads = 2',
      `osd heartbeat grace = ${this.heartbeatGraceS}`,
      `osd heartbeat interval = ${Math.max(1, Math.min(6, Math.floor(this.heartbeatGraceS / 3)))}`,
      '[mon.a]',
      `mon data = ${d}/mon.a`,
      '[mgr]',
      `mgr data = ${d}/$name`,
      '[osd]',
      `osd data = ${d}/$name`,
      'osd objectstore = bluestore',
      'bluestore block create = true',
      `bluestore block size = ${this.osdBytes}`,
      `osd memory target = ${OSD_MEMORY_TARGET}`,
      'osd crush update on start = true',
      'osd op num shards = 2',
      'osd op num threads per shard = 1',
      ...Array.from({ length: this.osds }, (_, i) => {
        const own = this.osdHosts?.[i];
        return [
          `[osd.${i}]`,
          `crush location = root=default host=hearth-osd-${i}`,
          ...(own ? [`public addr = ${own.address}`, `cluster addr = ${own.address}`] : []),
        ];
      }).flat(),
      '[client.rgw.a]',
      // Without it, a small answer's body waits for the ACK of its headers: 40 ms a GET (the client's delayed ACK).
      `rgw frontends = beast endpoint=${this.host}:${this.rgwPort} tcp_nodelay=1`,
      `rgw data = ${d}/rgw.a`,
      'rgw thread pool size = 64',
      '',
    ];
    writeFileSync(this.conf, lines.join('\n'));
  }

  private get made(): boolean {
    return existsSync(join(this.dir, 'made'));
  }

  /**
   * Makes the cluster if there is none, starts every daemon that is not running, and
   * waits until the S3 endpoint answers and every placement group is active.
   */
  async start(timeoutMs = 180_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (const sub of ['run', 'log']) mkdirSync(join(this.dir, sub), { recursive: true });
    if (!this.made) await this.make();
    else {
      await this.startDaemon('mon.a');
      await this.startDaemon('mgr.x');
      await Promise.all(Array.from({ length: this.osds }, (_, i) => this.startDaemon(`osd.${i}`)));
      await this.startDaemon('client.rgw.a');
    }
    await this.waitFor(
      end,
      'the S3 endpoint to answer',
      async () => (await fetch(this.endpoint, { signal: AbortSignal.timeout(2000) }).catch(() => undefined))?.ok === true,
    );
    if (!existsSync(this.credentialsFile)) await this.makeUser();
    await this.createBucket(this.bucket);
    await this.waitFor(end, 'every placement group to be active', async () => {
      const s = await this.status();
      return s.osds.up === this.osds && s.pgs.total > 0 && Object.entries(s.pgs.states).every(([state]) => state.split('+').includes('active'));
    });
  }

  private async waitFor(end: number, what: string, ok: () => Promise<boolean>): Promise<void> {
    let last: unknown;
    while (Date.now() < end) {
      try {
        if (await ok()) return;
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new CephError(`timed out waiting for ${what}; logs in ${join(this.dir, 'log')}${last ? ` (${(last as Error).message})` : ''}`);
  }

  private async make(): Promise<void> {
    // A make that died midway left a half cluster: start again from nothing.
    for (const name of readdirSync(this.dir)) if (name !== 'run' && name !== 'log') rmSync(join(this.dir, name), { recursive: true, force: true });
    const fsid = randomUUID();
    this.writeConf(fsid);
    const d = this.dir;
    const monKeyring = join(d, 'mon.a.keyring');
    const adminKeyring = join(d, 'client.admin.keyring');
    await this.tool('ceph-authtool', ['--create-keyring', monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await this.tool('ceph-authtool', [
      '--create-keyring',
      adminKeyring,
      '--gen-key',
      '-n',
      'client.admin',
      '--cap',
      'mon',
      'allow *',
      '--cap',
      'osd',
      'allow *',
      '--cap',
      'mds',
      'allow *',
      '--cap',
      'mgr',
      'allow *',
    ]);
    await this.tool('ceph-authtool', [monKeyring, '--import-keyring', adminKeyring]);
    const monmap = join(d, 'monmap');
    await this.tool('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:${this.host}:${this.monPort}]`, monmap]);
    mkdirSync(join(d, 'mon.a'), { recursive: true });
    await this.tool('ceph-mon', ['-c', this.conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring]);
    await this.startDaemon('mon.a');
    mkdirSync(join(d, 'mgr.x'), { recursive: true });
    await this.ceph(['auth', 'get-or-create', 'mgr.x', 'mon', 'allow profile mgr', 'osd', 'allow *', 'mds', 'allow *', '-o', join(d, 'mgr.x.keyring')]);
    // --force: the manager has not yet told the monitor which options its modules take.
    await this.ceph(['config', 'set', 'mgr', 'mgr/prometheus/server_addr', this.host, '--force']);
    await this.ceph(['config', 'set', 'mgr', 'mgr/prometheus/server_port', String(this.metricsPort), '--force']);
    await this.startDaemon('mgr.x');
    // OSD ids are handed out in order; each is made and started in parallel after.
    const osds: { id: number; uuid: string; key: string }[] = [];
    for (let i = 0; i < this.osds; i++) {
      const uuid = randomUUID();
      const key = (await this.tool('ceph-authtool', ['--gen-print-key'])).stdout.trim();
      const id = Number((await this.ceph(['osd', 'new', uuid, '-i', '-'], { input: JSON.stringify({ cephx_secret: key }) })).trim());
      if (id !== i) throw new CephError(`ceph osd new gave id ${id}, expected ${i}: is ${this.conf} a fresh cluster?`);
      osds.push({ id, uuid, key });
    }
    await Promise.all(
      osds.map(async ({ id, uuid, key }) => {
        mkdirSync(join(d, `osd.${id}`), { recursive: true });
        writeFileSync(join(d, `osd.${id}.keyring`), `[osd.${id}]\n\tkey = ${key}\n`, { mode: 0o600 });
        await this.tool('ceph-osd', ['-c', this.conf, '-i', String(id), '--mkfs', '--osd-uuid', uuid], {}, this.osdHosts?.[id]?.wrap ?? this.wrap);
        await this.startDaemon(`osd.${id}`);
      }),
    );
    mkdirSync(join(d, 'rgw.a'), { recursive: true });
    await this.ceph(['auth', 'get-or-create', 'client.rgw.a', 'mon', 'allow rw', 'osd', 'allow rwx', '-o', join(d, 'client.rgw.a.keyring')]);
    await this.startDaemon('client.rgw.a');
    writeFileSync(join(d, 'made'), `${new Date().toISOString()}\n`);
  }

  /** Starts one daemon unless it runs (each forks into the background and writes its pid file). */
  async startDaemon(daemon: CephDaemon): Promise<void> {
    if (this.pid(daemon)) return;
    const [kind, id] = [daemon.slice(0, daemon.indexOf('.')), daemon.slice(daemon.indexOf('.') + 1)];
    const args = ['-c', this.conf];
    if (kind === 'client') await this.tool('radosgw', [...args, '-n', daemon], {}, this.wrap);
    else await this.tool(`ceph-${kind}`, [...args, '-i', id], {}, (kind === 'osd' ? this.osdHosts?.[Number(id)]?.wrap : undefined) ?? this.wrap);
  }

  /** Kills one daemon at once, as a machine dying would (SIGKILL): for failure tests. */
  kill(daemon: CephDaemon): void {
    const pid = this.pid(daemon);
    if (pid) process.kill(pid, 'SIGKILL');
  }

  private async makeUser(): Promise<void> {
    const accessKeyId = randomBytes(10).toString('hex').toUpperCase();
    const secretAccessKey = randomBytes(20).toString('base64url');
    await this.tool('radosgw-admin', [
      '-c',
      this.conf,
      'user',
      'create',
      '--uid',
      'hearth',
      '--display-name',
      'Hearth',
      '--access-key',
      accessKeyId,
      '--secret-key',
      secretAccessKey,
    ]);
    writeFileSync(this.credentialsFile, `${JSON.stringify({ accessKeyId, secretAccessKey })}\n`, { mode: 0o600 });
  }

  /** A client of the S3 endpoint with Hearth's user's keys. */
  s3Client(): S3Client {
    const credentials = JSON.parse(readFileSync(this.credentialsFile, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    return new S3Client({
      region: 'us-east-1',
      endpoint: this.endpoint,
      forcePathStyle: true,
      credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Makes a bucket of Hearth's user, unless it has one of that name. */
  async createBucket(bucket: string): Promise<void> {
    const client = this.s3Client();
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (err) {
      const name = (err as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists')
        throw new CephError(`creating bucket ${bucket}: ${name}: ${(err as Error).message}`, { cause: err });
    } finally {
      client.destroy();
    }
  }

  /** What `ceph -s` says, in the figures Hearth shows. */
  async status(): Promise<CephStatus> {
    const s = JSON.parse(await this.ceph(['status', '-f', 'json'])) as {
      health: { status: string; checks?: Record<string, { summary?: { message?: string } }> };
      osdmap: { num_osds: number; num_up_osds: number; num_in_osds: number };
      pgmap: {
        num_pgs: number;
        pgs_by_state?: { state_name: string; count: number }[];
        degraded_objects?: number;
        bytes_used: number;
        bytes_avail: number;
        bytes_total: number;
      };
    };
    const states = Object.fromEntries((s.pgmap.pgs_by_state ?? []).map((p) => [p.state_name, p.count]));
    return {
      health: s.health.status,
      checks: Object.fromEntries(Object.entries(s.health.checks ?? {}).map(([k, v]) => [k, v.summary?.message ?? ''])),
      osds: { total: s.osdmap.num_osds, up: s.osdmap.num_up_osds, in: s.osdmap.num_in_osds },
      pgs: { total: s.pgmap.num_pgs, activeClean: states['active+clean'] ?? 0, states },
      degradedObjects: s.pgmap.degraded_objects ?? 0,
      bytes: { used: s.pgmap.bytes_used, available: s.pgmap.bytes_avail, total: s.pgmap.bytes_total },
    };
  }

  /** Whether any daemon of the cluster runs. */
  running(): boolean {
    return this.daemons().some((d) => this.pid(d) !== undefined);
  }

  /** Stops every daemon (RGW first, the monitor last), SIGTERM then SIGKILL; the cluster's data stays for the next start. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const order: CephDaemon[][] = [['client.rgw.a'], Array.from({ length: this.osds }, (_, i) => `osd.${i}` as const), ['mgr.x'], ['mon.a']];
    for (const group of order) {
      const pids = group.map((d) => this.pid(d)).filter((p): p is number => p !== undefined);
      for (const pid of pids) process.kill(pid, 'SIGTERM');
      const end = Date.now() + timeoutMs;
      while (pids.some(isAlive) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      for (const pid of pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
    }
  }

  /** Stops the cluster and removes everything it held. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
