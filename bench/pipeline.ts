/**
 * `npm run bench -- pipeline`: uploads/s through the whole pipeline (identity, resize with
 * its perceptual pass, the store), from the backfill's first message until every upload
 * has every stored size, on two stacks in the same run:
 *
 * - one machine: the default stack on loopback, the volumes store, a single Kafka node;
 * - spread over hosts: `stack up --hosts` (the default topology's test hosts on this machine), the store on
 *   a Ceph cluster (four OSDs, three copies, the RADOS Gateway) and three Kafka nodes
 *   (every topic on three, `min.insync.replicas` 2).
 *
 * The same machine runs both, so the ratio is what replication and the hops cost on two
 * cores, not a scale-out claim. Needs root (for the test hosts). Real photographs, scaled
 * to 1600 px as a phone's upload might be.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { CephCluster } from '../ceph/index.js';
import { originalPath, imagePath, storedLadder } from '../image/index.js';
import { canMakeHosts } from '../netns/index.js';
import { Stack } from '../stack/index.js';
import { openStore } from '../store/index.js';
import { defaultTopology, storeSpec, type Topology } from '../topology/index.js';
import { backfill } from '../test/helpers/store-stack.js';
import { sleep, table } from './common.js';

const SRC = process.env.HEARTH_BENCH_PHOTOS ?? '.cache/photos/src';
const UPLOADS = Number(process.env.HEARTH_BENCH_PIPELINE_UPLOADS ?? 60);
const CORPUS = resolve(process.env.HEARTH_CORPUS ?? '.cache/corpus');
const STORED = storedLadder();

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));

interface Figures {
  upMs: number;
  uploadsPerS: number;
  seconds: number;
}

async function originals(): Promise<Buffer[]> {
  const photos = readdirSync(SRC)
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  if (photos.length === 0) throw new Error(`no photographs in ${SRC}; run infra/setup.sh first`);
  return Promise.all(
    Array.from({ length: UPLOADS }, (_, i) =>
      sharp(readFileSync(join(SRC, photos[i % photos.length]!)))
        .rotate()
        .resize(1600 - (i % 50), 1600, { fit: 'inside' })
        .jpeg({ quality: 90 })
        .toBuffer(),
    ),
  );
}

/** Up, the originals into its store, a backfill of them, the time until every upload has every stored size; down. */
async function measure(name: string, dir: string, t: Topology, hosts: boolean, data: Buffer[], firstId: number): Promise<Figures> {
  const stack = new Stack(join(dir, 'state'), t, hosts ? { hosts: true, hostsTag: 'bp' } : {});
  process.once('exit', () => stack.killAll());
  const t0 = Date.now();
  await stack.up();
  const upMs = Date.now() - t0;
  const store = openStore(storeSpec(t));
  try {
    const ids = data.map((_, i) => String(firstId + i));
    for (const [i, id] of ids.entries()) await store.put(originalPath(id), data[i]!);
    const started = Date.now();
    await backfill(t, ids, dir, ['--rate', '1000']);
    const pending = new Set(ids);
    while (pending.size > 0) {
      for (const id of [...pending])
        if ((await Promise.all(STORED.map(async (s) => (await store.head(imagePath(id, s.name)))?.meta.pq !== undefined))).every(Boolean)) pending.delete(id);
      if (pending.size > 0) await sleep(500);
      if (Date.now() - started > 1_800_000) throw new Error(`${name}: ${pending.size} uploads not done after 30 min`);
    }
    const seconds = (Date.now() - started) / 1000;
    log(`${name}: up in ${upMs} ms; ${ids.length} uploads whole in ${seconds.toFixed(1)} s`);
    return { upMs, uploadsPerS: ids.length / seconds, seconds };
  } finally {
    await store.close();
    await stack.down();
  }
}

export async function benchPipeline(): Promise<Record<string, unknown>> {
  if (!(await canMakeHosts())) throw new Error('the pipeline benchmark runs one stack over test hosts: it needs root');
  const data = await originals();
  log(`${UPLOADS} uploads of ${Math.round(data.reduce((a, b) => a + b.length, 0) / data.length / 1024)} KB on average (real photographs at 1600 px)`);
  const one = mkdtempSync(join(tmpdir(), 'hearth-bench-pipeline-one-'));
  const spread = mkdtempSync(join(tmpdir(), 'hearth-bench-pipeline-hosts-'));
  try {
    const local = await measure(
      'one machine, volumes, one Kafka node',
      one,
      defaultTopology(CORPUS, { resizeWorkers: 2, volumes: join(one, 'volumes') }),
      false,
      data,
      8_100_000,
    );
    const cephDir = join(spread, 'ceph');
    const hosts = await measure(
      'over hosts, Ceph, three Kafka nodes',
      spread,
      defaultTopology(CORPUS, { resizeWorkers: 2, kafkaNodes: 3, ceph: cephDir, hosts: true }),
      true,
      data,
      8_200_000,
    );
    await new CephCluster({ dir: cephDir }).destroy();
    const ratio = round(hosts.uploadsPerS / local.uploadsPerS);
    log(
      table([
        { stack: 'one machine: volumes, one Kafka node', 'up, ms': local.upMs, 'uploads/s': local.uploadsPerS.toFixed(2) },
        { stack: 'over hosts: Ceph (3 copies), three Kafka nodes', 'up, ms': hosts.upMs, 'uploads/s': hosts.uploadsPerS.toFixed(2) },
      ]),
    );
    log(`spread over hosts on Ceph and three brokers: ${ratio}× the uploads/s of one machine on volumes (same two cores)`);
    return {
      bench: 'pipeline',
      uploads: UPLOADS,
      uploads_per_s_volumes_one_host: round(local.uploadsPerS),
      uploads_per_s_ceph_hosts: round(hosts.uploadsPerS),
      hosts_over_one_host: ratio,
      up_ms_one_host: local.upMs,
      up_ms_hosts: hosts.upMs,
    };
  } finally {
    rmSync(one, { recursive: true, force: true });
    rmSync(spread, { recursive: true, force: true });
  }
}
