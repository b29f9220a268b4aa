/**
 * The whole pipeline in one stack: an upload goes through the resize and perceptual
 * workers, becomes a HIT in its viewer's colo after a hint, and every daemon is a
 * Prometheus target that is up. The shared whole-pipeline stack (helpers/pipeline-stack.ts),
 * which these tests stop at the end: they run after the dashboard's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import exifReader from 'exif-reader';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { promisify } from 'node:util';
import { request } from 'undici';
import { createHinter } from '@hearth/api-hook';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { scrape } from '../../common/prom-text.js';
import { storedLadder } from '../../image/ladder.js';
import { imagePath, originalPath } from '../../image/store.js';
import { DirStore, storeFile } from '../../store/index.js';
import { RULES_FILE, renderPrometheusConfig, scrapeJobsFor } from '../../monitoring/prometheus-config.js';
import { Stack, type StackStatus } from '../../stack/stack.js';
import type { Topology } from '../../topology/topology.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { pipelineStack } from '../helpers/pipeline-stack.js';
import { phoneHeic } from '../helpers/heif.js';
import { until } from '../helpers/until.js';

/** What the resize tier stores at upload by default; the origin makes the rest on demand. */
const STORED = storedLadder();

const run = promisify(execFile);
const listening = (address: string) =>
  new Promise<boolean>((resolve) => {
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    const s = createConnection({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('the whole pipeline in one stack (broker, workers, Prometheus)', function () {
  this.timeout(180_000);
  let stack: Stack;
  let t: Topology;
  let root: string;

  before(async () => {
    ({ stack, topology: t, root } = await pipelineStack());
  });

  it('status --json shows the broker, Prometheus and every worker', async () => {
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'stack', 'status', '--json', '--state', stack.stateDir]);
    const st = JSON.parse(stdout) as StackStatus;
    assert.equal(st.kafka?.address, t.kafka?.listen);
    assert.equal(st.prometheus?.address, t.pipeline?.prometheus.listen);
    assert.deepEqual(
      st.workers?.resize.map((w) => [w.http, w.running]),
      t.pipeline?.resizeWorkers.map((a) => [a, true]),
    );
    assert.deepEqual(
      st.workers?.perceptual.map((w) => [w.http, w.running]),
      [[t.pipeline?.perceptual, true]],
    );
    assert.deepEqual([st.workers?.identity.http, st.workers?.identity.running], [t.pipeline?.identity, true]);
    assert.deepEqual(
      [st.workers.identity, ...st.workers.resize, ...st.workers.perceptual].map((w) => w.healthy),
      [true, true, true, true],
    );
  });

  it('status shows a worker whose process runs but does no work (here: stopped, its /healthz unanswered) as DOWN, saying why', async () => {
    const pid = stack.daemonPid('perceptual')!;
    process.kill(pid, 'SIGSTOP');
    try {
      const { stdout } = await run(process.execPath, [HEARTH_CLI, 'stack', 'status', '--state', stack.stateDir]);
      assert.match(stdout, /^DOWN compress perceptual .* FAILING: \/healthz: /m);
      assert.match(stdout, /^up {3}resize {3}#0 /m);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it("an upload is resized and compressed by the workers, then a hint makes it a HIT in its viewer's colo", async () => {
    // Other tests on this shared stack uploaded before: count from here, and look at this upload's own markers.
    const perceptual = async () => {
      const m = await scrape(t.pipeline!.perceptual);
      return ['compressed', 'kept', 'already'].reduce((n, r) => n + (m.get(`hearth_compress_images_total{result="${r}"}`) ?? 0), 0);
    };
    const before = await perceptual();
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'upload', '--store', root, '--brokers', t.kafka!.listen, join(FIXTURES, 'ladybird.jpg')]);
    const { id, paths } = JSON.parse(stdout) as { id: string; paths: Record<string, string> };
    await until('every size written', () => (STORED.every((s) => existsSync(storeFile(root, imagePath(id, s.name)))) ? true : undefined), 60_000);
    await until(
      'every size through the perceptual worker',
      async () =>
        (await perceptual()) >= before + STORED.length &&
        (await Promise.all(STORED.map(async (s) => (await new DirStore(root).head(imagePath(id, s.name)))?.meta.pq))).every(Boolean)
          ? true
          : undefined,
      60_000,
    );
    // A size not stored at upload (2048 px) is the origin's to make, from the original, when a viewer asks.
    assert.equal(existsSync(storeFile(root, imagePath(id, 'k'))), false);
    const k = await request(`http://${t.colos[1]!.nodes[0]!}${paths.k!}`, { headers: { host: 'img-ams.test' } });
    await k.body.dump();
    assert.equal(k.statusCode, 200);
    const path = paths.z!;
    // Other tests on this shared stack pushed before: wait for this push, not any.
    const misses = async () => (await scrape(t.warmer.http)).get('hearth_warmer_pushes_total{colo="sin",outcome="miss"}') ?? 0;
    const pushedBefore = await misses();
    const hinter = createHinter({ warmers: [t.warmer.udp] });
    hinter.hint({ paths: [path], viewer: '10.1.0.7' });
    await hinter.close();
    await until('pushed', async () => ((await misses()) >= pushedBefore + 1 ? true : undefined), 10_000);
    const r = await request(`http://${t.colos[0]!.nodes[0]!}${path}`, { headers: { host: 'img-sin.test' } });
    await r.body.dump();
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['x-cache-status'], 'HIT');
  });

  it("a phone's HEIC goes the whole way: stored byte for byte, counted by format, every size made upright and compressed, its original served as image/heic without its location", async () => {
    const heic = await phoneHeic('aqua.jpg');
    const dir = mkdtempSync(join(tmpdir(), 'hearth-heic-'));
    writeFileSync(join(dir, 'IMG_0001.HEIC'), heic);
    const heics = async () => (await scrape(t.pipeline!.identity)).get('hearth_identity_originals_total{format="heic",gain_map="false"}') ?? 0;
    const before = await heics();
    const { stdout } = await run(process.execPath, [HEARTH_CLI, 'upload', '--store', root, '--brokers', t.kafka!.listen, join(dir, 'IMG_0001.HEIC')]);
    const up = JSON.parse(stdout) as { id: string; format: string; gainMap: boolean; width: number; height: number; paths: Record<string, string> };
    assert.deepEqual([up.format, up.gainMap, up.width, up.height], ['heic', false, 1024, 640]);
    assert.ok(readFileSync(storeFile(root, originalPath(up.id))).equals(heic), 'the original is the upload, byte for byte');
    await until(
      'every size written and through the perceptual pass',
      async () =>
        (await Promise.all(STORED.map(async (s) => (await new DirStore(root).head(imagePath(up.id, s.name)))?.meta.pq))).every(Boolean) ? true : undefined,
      60_000,
    );
    assert.ok((await heics()) >= before + 1, 'the identity tier counted a HEIC');
    for (const s of STORED) {
      const m = await sharp(readFileSync(storeFile(root, imagePath(up.id, s.name)))).metadata();
      assert.equal(m.format, 'jpeg', `${s.name} is a JPEG`);
      assert.ok(s.square ? m.width === m.height : m.width > m.height, `${s.name} has the photo's shape`);
    }
    // The original through a cache: a HEIC, said so, without its GPS, and a size made on demand from it (2048 px is not stored).
    const o = await request(`http://${t.colos[0]!.nodes[0]!}${up.paths.original!}`, { headers: { host: 'img-sin.test' } });
    const body = Buffer.from(await o.body.arrayBuffer());
    assert.equal(o.statusCode, 200);
    assert.equal(o.headers['content-type'], 'image/heic');
    assert.match(String(o.headers['content-disposition']), /filename="\d+\.heic"/);
    assert.equal(body.length, heic.length);
    assert.ok(exifReader((await sharp(heic).metadata()).exif!).GPSInfo, 'the upload has a location');
    assert.equal(exifReader((await sharp(body).metadata()).exif!).GPSInfo, undefined, 'the served original has none');
    const k = await request(`http://${t.colos[0]!.nodes[0]!}${up.paths.k!}`, { headers: { host: 'img-sin.test' } });
    const km = await sharp(Buffer.from(await k.body.arrayBuffer())).metadata();
    assert.deepEqual([k.statusCode, k.headers['content-type'], km.format, km.width], [200, 'image/jpeg', 'jpeg', 1024]);
  });

  it('Prometheus scrapes every daemon of the topology, and every target is up', async () => {
    const targets = await until(
      'every target scraped and up',
      async () => {
        const body = (await (await fetch(`http://${t.pipeline!.prometheus.listen}/api/v1/targets`)).json()) as {
          data: { activeTargets: { labels: { job: string; instance: string }; health: string }[] };
        };
        const ts = body.data.activeTargets;
        return ts.length === 13 && ts.every((x) => x.health === 'up') ? ts : undefined;
      },
      30_000,
    );
    assert.deepEqual(targets.map((x) => x.labels.job).sort(), [
      'cache-logs',
      'dashboard',
      'identity',
      'origin',
      'perceptual',
      'purge',
      'purge',
      'race',
      'resize',
      'resize',
      'takedown',
      'textfiles',
      'warmer',
    ]);
    const rules = (await (await fetch(`http://${t.pipeline!.prometheus.listen}/api/v1/rules`)).json()) as { data: { groups: { name: string }[] } };
    assert.deepEqual(rules.data.groups.map((g) => g.name).sort(), ['hearth-alerts', 'hearth-recording']);
    // No stored series names the state directory (mtail labels its counters with log paths).
    const series = async (match: string) =>
      (
        (await (await fetch(`http://${t.pipeline!.prometheus.listen}/api/v1/series?match[]=${encodeURIComponent(match)}`)).json()) as {
          data: Record<string, string>[];
        }
      ).data;
    const logfiles = await until(
      'mtail series stored',
      async () => ((await series('mtail_log_lines_total')).length > 0 ? series('mtail_log_lines_total') : undefined),
      30_000,
    );
    // A node's series appears with its log's first line: every one there is named by its node.
    const nodes = stack
      .instances()
      .filter((n) => n.inst.role === 'cache')
      .map((n) => n.inst.name);
    assert.ok(
      logfiles.every((x) => nodes.includes(x.logfile ?? '')),
      JSON.stringify(logfiles.map((x) => x.logfile)),
    );
    assert.deepEqual(await series(`{__name__=~".+", logfile=~"/.*"}`), []);
  });

  it("scaling out is Kafka's job: kill -9 one of two resize workers mid-backfill, the other takes over, every upload ends with all its sizes, decodable", async function () {
    this.timeout(420_000);
    const ids: string[] = [];
    const photos = readdirSync(FIXTURES).filter((f) => f.endsWith('.jpg'));
    for (let i = 0; i < 24; i++) {
      const id = String(880000 + i);
      const file = storeFile(root, originalPath(id));
      mkdirSync(dirname(file), { recursive: true });
      // Each a different file (quality), so no two resizes are alike.
      writeFileSync(
        file,
        await sharp(join(FIXTURES, photos[i % photos.length]!))
          .jpeg({ quality: 70 + i })
          .toBuffer(),
      );
      ids.push(id);
    }
    const list = join(root, '..', 'backfill.list');
    writeFileSync(list, ids.map((id) => `${id} ${originalPath(id)}`).join('\n'));
    const backfill = run(process.execPath, [
      HEARTH_CLI,
      'backfill',
      '--list',
      list,
      '--brokers',
      t.kafka!.listen,
      '--rate',
      '8',
      '--batch',
      '2',
      '--checkpoint',
      join(root, '..', 'backfill.json'),
      '--no-progress',
    ]);
    const resized = async (http: string) => (await scrape(http)).get('hearth_resize_images_total') ?? 0;
    // Both workers have taken part before one dies.
    await until(
      'both workers resizing',
      async () => ((await resized(t.pipeline!.resizeWorkers[0]!)) >= 1 && (await resized(t.pipeline!.resizeWorkers[1]!)) >= 1 ? true : undefined),
      60_000,
    );
    const victim = stack.status().workers!.resize[0]!.pid!;
    process.kill(victim, 'SIGKILL');
    await backfill;
    const whole = (id: string) => STORED.every((s) => existsSync(storeFile(root, imagePath(id, s.name))));
    // The group gives the dead worker's partitions to the survivor after its session times out.
    // A bound, not a timing: one worker on 2 cores makes each upload's sizes and then searches
    // their AVIF and WebP (about 8 s an upload) before the next upload's sizes.
    await until('every upload has every size', () => (ids.every(whole) ? true : undefined), 300_000);
    assert.equal(stack.status().workers!.resize[0]!.running, false, 'the killed worker stays dead');
    for (const id of ids) {
      for (const s of STORED) {
        const data = readFileSync(storeFile(root, imagePath(id, s.name)));
        await assert.doesNotReject(sharp(data, { failOn: 'error' }).raw().toBuffer(), `${id}_${s.name} does not decode`);
      }
    }
  });

  it('a stopped cache node fires HearthColoBreakerOpen in Prometheus (rules with a short for:)', async () => {
    // The same rules with `for:` shortened, loaded by SIGHUP (the stack keeps Prometheus's lifecycle API off: any local user could POST /-/quit).
    const promDir = join(stack.stateDir, 'prometheus');
    const fastRules = join(promDir, 'hearth.rules.fast.yml');
    writeFileSync(fastRules, readFileSync(RULES_FILE, 'utf8').replace(/for: \d+m/g, 'for: 5s'));
    writeFileSync(join(promDir, 'prometheus.yml'), renderPrometheusConfig({ jobs: scrapeJobsFor(t), ruleFiles: [fastRules] }));
    const prom = `http://${t.pipeline!.prometheus.listen}`;
    process.kill(stack.daemonPid('prometheus')!, 'SIGHUP');
    await until(
      'the fast rules loaded',
      async () => {
        const body = (await (await fetch(`${prom}/api/v1/rules`)).json()) as { data: { groups: { file: string }[] } };
        return body.data.groups.some((g) => g.file === fastRules) ? true : undefined;
      },
      20_000,
    );
    const ams = stack.instances().find((n) => n.inst.name === 'cache-ams-0')!;
    await ams.stop();
    try {
      const hinter = createHinter({ warmers: [t.warmer.udp] });
      for (let i = 0; i < 4; i++) hinter.hint({ paths: [imagePath(String(990000 + i), 'z')], viewer: '10.2.0.9' });
      await hinter.close();
      await until(
        'the breaker open',
        async () => ((await scrape(t.warmer.http)).get('hearth_warmer_breaker_open{colo="ams"}') === 1 ? true : undefined),
        20_000,
      );
      const firing = await until(
        'HearthColoBreakerOpen firing',
        async () => {
          const body = (await (await fetch(`${prom}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
          return body.data.alerts.find((a) => a.labels.alertname === 'HearthColoBreakerOpen' && a.state === 'firing');
        },
        60_000,
      );
      assert.equal(firing.labels.colo, 'ams');
      assert.equal(firing.labels.severity, 'page');
    } finally {
      await ams.start();
    }
  });

  it('down stops everything it started, leaving nothing listening', async () => {
    await stack.down();
    const addresses = [
      t.origin.listen,
      t.origin.service!,
      t.origin.serviceMetrics!,
      t.proxy.listen,
      ...t.colos.flatMap((c) => c.nodes),
      t.warmer.http,
      t.kafka!.listen,
      ...t.pipeline!.resizeWorkers,
      ...t.pipeline!.purgers,
      t.pipeline!.takedown,
      t.pipeline!.perceptual,
      t.pipeline!.prometheus.listen,
      t.pipeline!.cacheLogs,
      t.pipeline!.race,
      t.pipeline!.textfiles,
      t.pipeline!.dashboard,
    ];
    const still = [];
    for (const a of addresses) if (await listening(a)) still.push(a);
    assert.deepEqual(still, []);
  });
});
