/**
 * One real stack (origin, caches, proxy as nginx processes, and the warmer) shared by
 * every test that needs it, on free ports and a temporary state directory, serving a
 * small store built from the fixture photographs. Stopped when the run ends.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCorpus, findJpegs, type CorpusManifest } from '../../corpus/build.js';
import { parseTopology, type Topology } from '../../topology/topology.js';
import { Stack } from '../../stack/stack.js';
import { sharedOnce } from './shared-once.js';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/photos', import.meta.url));

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((r) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => r(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A UDP port nobody holds: TCP-free numbers can still be taken on UDP (another stack's warmer). */
export async function freeUdpPort(): Promise<number> {
  const dgram = await import('node:dgram');
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const { port } = sock.address();
  await new Promise<void>((r) => sock.close(r));
  return port;
}

export interface TestStack {
  stack: Stack;
  topology: Topology;
  corpus: CorpusManifest;
  root: string;
  dir: string;
}

/** Starts `stack`; pass or fail, the run must not leave nginx, the daemons or the broker behind. */
export async function upForTheRun(stack: Stack): Promise<void> {
  process.once('exit', () => stack.killAll());
  await stack.up();
}

const shared = sharedOnce(
  async (): Promise<TestStack> => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-stack-'));
    const root = join(dir, 'store');
    const corpus = await buildCorpus({ sources: findJpegs(FIXTURES), out: root, idsPerPhoto: 16 });
    const [origin, proxy, sin, ams, http, delay, service, serviceMetrics] = await freePorts(8);
    const udp = await freeUdpPort();
    const topology = parseTopology({
      // A little distance to the origin, so a push and a viewer's miss take measurably long.
      origin: {
        listen: `127.0.0.1:${origin}`,
        root,
        service: `127.0.0.1:${service}`,
        serviceMetrics: `127.0.0.1:${serviceMetrics}`,
        delay: { ms: 40, listen: `127.0.0.1:${delay}` },
      },
      proxy: { listen: `127.0.0.1:${proxy}`, keepalive: 16 },
      colos: [
        {
          name: 'sin',
          host: 'cache-sin.test',
          viewerHosts: ['img-sin.test'],
          cidrs: ['10.1.0.0/16'],
          nodes: [`127.0.0.1:${sin}`],
          cache: { notFoundValid: '1s' },
        },
        {
          name: 'ams',
          host: 'cache-ams.test',
          viewerHosts: ['img-ams.test'],
          cidrs: ['10.2.0.0/16'],
          nodes: [`127.0.0.1:${ams}`],
          cache: { notFoundValid: '1s' },
        },
      ],
      // Generous TTL: a loaded CI machine must not turn the tests' hints stale.
      warmer: {
        udp: `127.0.0.1:${udp}`,
        http: `127.0.0.1:${http}`,
        settings: { ttlMs: 5000, futureMs: 5000, push: { breakerFailures: 2, breakerCooldownMs: 300 } },
      },
    });
    const stack = new Stack(join(dir, 'state'), topology);
    await upForTheRun(stack);
    return { stack, topology, corpus, root, dir };
  },
  (s) => s.stack.down(),
);

export const testStack = (): Promise<TestStack> => shared.get();
export const stopTestStack = (): Promise<void> => shared.stop();

export interface AccessLine {
  host: string;
  method: string;
  uri: string;
  status: number;
  cache: string;
  connection: number;
  connection_requests: number;
}

export function accessLog(file: string): AccessLine[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AccessLine);
  } catch {
    return [];
  }
}
