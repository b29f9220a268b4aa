/**
 * `hearth race` as a daemon: follows log files that grow, appear late and are
 * truncated, counts what it cannot read, and serves its outcome on /metrics.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scrape } from '../../common/prom-text.js';
import { createLogger } from '../../common/logger.js';
import { loadRaceConfig } from '../../race/config.js';
import { RaceService } from '../../race/service.js';
import { until } from '../helpers/until.js';

const line = (o: { role: 'push' | 'viewer'; uri: string; cache: string; msec: number; rt?: number; colo?: string; format?: string }): string =>
  `${JSON.stringify({ time: '2026-11-23T21:12:10+00:00', remote: '127.0.0.1', host: 'h', method: o.role === 'push' ? 'HEAD' : 'GET', uri: o.uri, args: '', status: 200, bytes: 100, cache: o.cache, request_time: o.rt ?? 0.001, upstream_time: '', upstream: '', connection: 1, connection_requests: 1, tls_reused: '', msec: o.msec, upstream_bytes: '', ...(o.format ? { format: o.format } : {}), colo: o.colo ?? 'sin', node: 'cache-sin-0', role: o.role })}\n`;

describe('hearth race (the daemon)', function () {
  this.timeout(30_000);
  let service: RaceService;
  let address: string;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-race-'));
    writeFileSync(join(dir, 'a.log'), line({ role: 'push', uri: '/old', cache: 'MISS', msec: 1 }));
    const config = loadRaceConfig(undefined, { logs: [join(dir, 'a.log'), join(dir, 'b.log')], http: { port: 0 }, pollMs: 50 });
    service = new RaceService(config, { logger: createLogger('race', 'silent') });
    address = `127.0.0.1:${(await service.start()).port}`;
  });
  after(async () => {
    await service?.stop();
  });

  const metric = async (name: string): Promise<number> => (await scrape(address)).get(name) ?? 0;

  it('is not ready while a log is missing, and says which', async () => {
    const r = await fetch(`http://${address}/readyz`);
    assert.equal(r.status, 503);
    const body = (await r.json()) as { checks: Record<string, unknown> };
    assert.equal(body.checks[join(dir, 'a.log')], true);
    assert.match(String(body.checks[join(dir, 'b.log')]), /not there yet/);
  });

  it('joins a push in one log with first views in another (read in any order), counting only new lines', async () => {
    appendFileSync(
      join(dir, 'a.log'),
      line({ role: 'push', uri: '/p/1_z.jpg', cache: 'MISS', msec: 1000.2 }) + line({ role: 'push', uri: '/p/2_z.jpg', cache: 'MISS', msec: 1000.2 }),
    );
    writeFileSync(
      join(dir, 'b.log'),
      line({ role: 'viewer', uri: '/p/1_z.jpg', cache: 'HIT', msec: 1000.5 }) +
        line({ role: 'viewer', uri: '/p/2_z.jpg', cache: 'MISS', msec: 1000.21, rt: 0.1 }),
    );
    await until('both first views joined', async () =>
      (await metric('hearth_race_first_views_total{colo="sin",format="jpeg",outcome="won"}')) === 1 &&
      (await metric('hearth_race_first_views_total{colo="sin",format="jpeg",outcome="lost"}')) === 1
        ? true
        : undefined,
    );
    assert.equal((await fetch(`http://${address}/readyz`)).status, 200);
    // The line written before the start was not read.
    assert.equal(await metric('hearth_race_log_lines_total{result="joined"}'), 4);
    assert.equal(await metric('hearth_race_push_to_view_seconds_count{colo="sin"}'), 1);
    assert.equal(await metric('hearth_race_push_late_seconds_count{colo="sin"}'), 1);
  });

  it('counts a line that is not a cache node line, and keeps going after a truncation', async () => {
    appendFileSync(join(dir, 'a.log'), 'not json at all\n{"uri":"/x"}\n');
    await until('malformed counted', async () => ((await metric('hearth_race_log_lines_total{result="malformed"}')) === 2 ? true : undefined));
    // Polling sees a truncation as a file shorter than its cursor: the line written after it is
    // shorter than what the file held, so the follower sees it shrink whenever it next looks.
    const held = statSync(join(dir, 'a.log')).size;
    const after = line({ role: 'push', uri: '/p/3_z.jpg', cache: 'MISS', msec: 2000 });
    assert.ok(Buffer.byteLength(after) < held);
    truncateSync(join(dir, 'a.log'), 0);
    appendFileSync(join(dir, 'a.log'), after);
    appendFileSync(join(dir, 'b.log'), line({ role: 'viewer', uri: '/p/3_z.jpg', cache: 'HIT', msec: 2000.3 }));
    await until('joined after truncation', async () =>
      (await metric('hearth_race_first_views_total{colo="sin",format="jpeg",outcome="won"}')) === 2 ? true : undefined,
    );
    assert.equal(await metric('hearth_race_tracked_paths'), 3);
  });

  it('counts each format class apart: an AVIF push won by an AVIF viewer is no JPEG race, and every class has its series from the start', async () => {
    for (const f of ['avif', 'webp']) assert.equal(await metric(`hearth_race_first_views_total{colo="sin",format="${f}",outcome="won"}`), 0, f);
    appendFileSync(join(dir, 'a.log'), line({ role: 'push', uri: '/p/9_z.jpg', cache: 'MISS', msec: 1500, format: 'avif' }));
    // A JPEG viewer of the same path first: its class was not pushed, so it is no first view of a push.
    appendFileSync(
      join(dir, 'b.log'),
      line({ role: 'viewer', uri: '/p/9_z.jpg', cache: 'MISS', msec: 1500.1 }) +
        line({ role: 'viewer', uri: '/p/9_z.jpg', cache: 'HIT', msec: 1500.2, format: 'avif' }),
    );
    await until('the AVIF race', async () =>
      (await metric('hearth_race_first_views_total{colo="sin",format="avif",outcome="won"}')) === 1 ? true : undefined,
    );
    assert.equal(await metric('hearth_race_first_views_total{colo="sin",format="jpeg",outcome="lost"}'), 1, 'the JPEG counts are as before');
  });

  it('refuses a config without logs, naming the field', () => {
    assert.throws(() => loadRaceConfig(undefined, {}), /logs/);
    assert.throws(() => loadRaceConfig(undefined, { logs: ['x'], viewerWaitS: 600, viewWindowS: 60 }), /viewerWaitS: longer than viewWindowS/);
  });
});
