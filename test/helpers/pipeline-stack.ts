/**
 * One whole-pipeline stack (broker, identity tier, workers, mtail, race, Prometheus, dashboard, and the
 * warm path with 40 ms to the origin) shared by the tests that need it, on free ports,
 * serving a small store built from the fixture photographs. Stopped when the run ends.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCorpus, findJpegs } from '../../corpus/build.js';
import { Stack } from '../../stack/stack.js';
import { parseTopology, type Topology } from '../../topology/topology.js';
import { sharedOnce } from './shared-once.js';
import { FIXTURES, freePorts, freeUdpPort, upForTheRun } from './test-stack.js';

export interface PipelineStack {
  stack: Stack;
  topology: Topology;
  root: string;
  dir: string;
}

const shared = sharedOnce(
  async (): Promise<PipelineStack> => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-pipeline-'));
    const root = join(dir, 'store');
    await buildCorpus({ sources: findJpegs(FIXTURES), out: root, idsPerPhoto: 6 });
    const [
      origin,
      proxy,
      sin,
      ams,
      http,
      service,
      serviceMetrics,
      delay,
      kafka,
      controller,
      r0,
      r1,
      perceptual,
      prometheus,
      cacheLogs,
      race,
      textfiles,
      dashboard,
      identity,
      purgeSin,
      purgeAms,
      takedown,
    ] = await freePorts(22);
    const a = (port: number | undefined): string => `127.0.0.1:${port}`;
    const topology = parseTopology({
      origin: { listen: a(origin), root, service: a(service), serviceMetrics: a(serviceMetrics), delay: { ms: 40, listen: a(delay) } },
      proxy: { listen: a(proxy), keepalive: 16 },
      colos: [
        // A 2 s fetch bound: the purgers' second pass 5 s after a takedown (test/e2e/deletion.test.ts).
        { name: 'sin', host: 'cache-sin.test', viewerHosts: ['img-sin.test'], cidrs: ['10.1.0.0/16'], nodes: [a(sin)], cache: { fetchTimeout: '2s' } },
        { name: 'ams', host: 'cache-ams.test', viewerHosts: ['img-ams.test'], cidrs: ['10.2.0.0/16'], nodes: [a(ams)], cache: { fetchTimeout: '2s' } },
      ],
      // A breaker that stays open once open, so Prometheus sees it whatever its scrape timing.
      warmer: {
        udp: a(await freeUdpPort()),
        http: a(http),
        settings: { ttlMs: 5000, futureMs: 5000, push: { breakerFailures: 2, breakerCooldownMs: 120_000 } },
      },
      kafka: { listen: a(kafka), controller: a(controller) },
      pipeline: {
        resizeWorkers: [a(r0), a(r1)],
        perceptual: a(perceptual),
        identity: a(identity),
        prometheus: { listen: a(prometheus) },
        cacheLogs: a(cacheLogs),
        race: a(race),
        textfiles: a(textfiles),
        dashboard: a(dashboard),
        purgers: [a(purgeSin), a(purgeAms)],
        takedown: a(takedown),
      },
    });
    const stack = new Stack(join(dir, 'state'), topology);
    await upForTheRun(stack);
    return { stack, topology, root, dir };
  },
  (s) => s.stack.down(),
);

export const pipelineStack = (): Promise<PipelineStack> => shared.get();
export const stopPipelineStack = (): Promise<void> => shared.stop();
