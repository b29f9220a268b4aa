/**
 * The caches' access logs as metrics: Debian's mtail running Hearth's program over lines
 * a real cache node of the shared stack wrote (a push, a viewer's MISS and HIT, a
 * refused path), and a line that is not one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { parsePromText } from '../../common/prom-text.js';
import { CACHE_LOG_METRICS, MTAIL_PROGRAMS } from '../../monitoring/cache-logs.js';
import type { NginxInstance } from '../../proxy-config/nginx.js';
import { testStack } from '../helpers/test-stack.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const PROGRAM = join(MTAIL_PROGRAMS, 'hearth-cache.mtail');

async function get(address: string, path: string, host: string, method: 'GET' | 'HEAD' = 'GET'): Promise<string> {
  const res = await request(`http://${address}${path}`, { method, headers: { host }, reset: true });
  await res.body.dump();
  return String(res.headers['x-cache-status'] ?? res.statusCode);
}

/** mtail over one file, once, to its Prometheus text (on a port of its choosing: never mtail's default 3903). */
async function mtailOnce(file: string): Promise<Map<string, number>> {
  const { stdout } = await run('mtail', [
    '--one_shot',
    '--one_shot_format',
    'prometheus',
    '--emit_prog_label=false',
    '--progs',
    MTAIL_PROGRAMS,
    '--logs',
    file,
    '--address',
    '127.0.0.1',
    '--port',
    '0',
    '--logtostderr',
  ]);
  return parsePromText(stdout);
}

describe("cache-log metrics (mtail over the caches' access logs)", function () {
  this.timeout(60_000);

  it('the program compiles, and declares exactly the metrics the docs list (name, type, labels)', async () => {
    await run('mtail', ['--compile_only', '--progs', MTAIL_PROGRAMS, '--address', '127.0.0.1', '--port', '0', '--logtostderr']);
    const declared = [...readFileSync(PROGRAM, 'utf8').matchAll(/^(counter|gauge|histogram) (\w+)(?: by ([\w, ]+?))?(?: buckets [\d., ]+)?$/gm)].map((m) => [
      m[2],
      m[1],
      (m[3] ?? '').split(/,\s*/).filter(Boolean),
    ]);
    const documented = Object.values(CACHE_LOG_METRICS).map((d) => [d.name, d.type, [...((d as { labelNames?: readonly string[] }).labelNames ?? [])]]);
    assert.deepEqual(declared, documented);
  });

  it("counts a real node's lines: viewers by cache status, pushes apart, bytes from the origin, timings; a foreign line as unparsed", async () => {
    const s = await testStack();
    const node = s.stack.instances().find((n) => n.inst.name === 'cache-sin-0') as NginxInstance;
    const cache = s.topology.colos[0]!.nodes[0]!;
    const [pushed, viewed] = s.corpus.paths.slice(-110, -108) as [string, string];
    const from = statSync(node.accessLog).size;
    assert.equal(await get(s.topology.proxy.listen, pushed, 'cache-sin.test', 'HEAD'), 'MISS');
    assert.equal(await get(cache, pushed, 'img-sin.test'), 'HIT');
    assert.equal(await get(cache, viewed, 'img-sin.test'), 'MISS');
    assert.equal(await get(cache, viewed, 'img-sin.test'), 'HIT');
    assert.equal(await get(cache, '/metrics', 'img-sin.test'), '404');
    const lines = await until('5 lines logged', () => {
      const l = readFileSync(node.accessLog).subarray(from).toString().split('\n').filter(Boolean);
      return l.length >= 5 ? l : undefined;
    });
    const dir = mkdtempSync(join(tmpdir(), 'hearth-mtail-'));
    const file = join(dir, 'access.log');
    writeFileSync(file, `${lines.join('\n')}\nGET / HTTP/1.1 this is not a cache node line\n`);
    const m = await mtailOnce(file);
    const at = (name: string, labels: string): number | undefined => m.get(`${name}{${labels}}`);
    const base = 'colo="sin",node="cache-sin-0"';
    assert.equal(at('hearth_cache_requests_total', `cache_status="MISS",code="200",${base},role="push"`), 1);
    assert.equal(at('hearth_cache_requests_total', `cache_status="HIT",code="200",${base},role="viewer"`), 2);
    assert.equal(at('hearth_cache_requests_total', `cache_status="MISS",code="200",${base},role="viewer"`), 1);
    assert.equal(at('hearth_cache_requests_total', `cache_status="NONE",code="404",${base},role="viewer"`), 1);
    assert.equal(m.get('hearth_cache_log_unparsed_lines_total'), 1);
    // Bytes: the push and the viewer's MISS each fetched one object from the origin; viewers were sent three bodies.
    const sizes = [pushed, viewed].map((p) => statSync(join(s.root, p)).size);
    assert.ok((at('hearth_cache_origin_received_bytes_total', `${base},role="push"`) ?? 0) > (sizes[0] as number));
    assert.ok((at('hearth_cache_origin_received_bytes_total', `${base},role="viewer"`) ?? 0) > (sizes[1] as number));
    assert.ok((at('hearth_cache_sent_bytes_total', `${base},role="viewer"`) ?? 0) >= (sizes[0] as number) + 2 * (sizes[1] as number));
    assert.equal(at('hearth_cache_request_duration_seconds_count', `cache_status="HIT",${base},role="viewer"`), 2);
    assert.equal(at('hearth_cache_upstream_duration_seconds_count', `cache_status="MISS",${base},role="viewer"`), 1);
    // The viewer's MISS waited for the origin (40 ms of latency proxy in the shared stack).
    assert.equal(at('hearth_cache_request_duration_seconds_bucket', `cache_status="MISS",${base},role="viewer",le="0.025"`), 0);
  });
});
