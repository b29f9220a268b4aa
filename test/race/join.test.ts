/**
 * The race join's rules, on lines shaped as a cache node writes them (timings chosen
 * to put each case on a known side of the push's completion).
 */
import assert from 'node:assert/strict';
import { seededRandom } from '../../common/random.js';
import { RaceJoin } from '../../race/join.js';
import { parseCacheLogLine, type CacheLogLine } from '../../topology/cache-log.js';

const line = (o: Partial<CacheLogLine> & Pick<CacheLogLine, 'role' | 'msec'>): CacheLogLine => ({
  colo: 'sin',
  node: 'cache-sin-0',
  uri: '/photos/1/1_z.jpg',
  format: 'jpeg',
  status: 200,
  bytes: 1000,
  cache: 'MISS',
  requestTime: 0.05,
  ...o,
});

function harness(o: { max?: number } = {}) {
  // Not 0: lru-cache takes a start time of 0 for "no TTL".
  let clock = 1000;
  const seen = { won: 0, in_flight: 0, lost: 0, gaps: [] as number[], took: [] as number[], unviewed: 0, evicted: [] as string[] };
  const join = new RaceJoin(
    { maxTracked: o.max ?? 1000, viewWindowMs: 60_000, viewerWaitMs: 5000, now: () => clock },
    {
      firstView: (_c, outcome, gap, took) => {
        seen[outcome]++;
        seen.gaps.push(Math.round(gap * 1000));
        if (outcome === 'in_flight') seen.took.push(Math.round(took * 1000));
      },
      unviewed: () => seen.unviewed++,
      evicted: (s) => seen.evicted.push(s),
    },
  );
  return { join, seen, advance: (ms: number) => (clock += ms) };
}

describe('race join', () => {
  it('a HIT begun after the push is won, with its push-to-view time; a HIT begun while the push was fetching is in_flight, with its wait, in whichever order the lines are read', () => {
    for (const viewerFirst of [false, true]) {
      const { join, seen } = harness();
      join.add(line({ role: 'push', msec: 100.2 }));
      join.add(line({ role: 'viewer', cache: 'HIT', msec: 100.301, requestTime: 0.001 }));
      const push = line({ role: 'push', uri: '/photos/1/2_z.jpg', msec: 100.2 });
      const view = line({ role: 'viewer', uri: '/photos/1/2_z.jpg', cache: 'HIT', msec: 100.21, requestTime: 0.04 });
      for (const l of viewerFirst ? [view, push] : [push, view]) join.add(l);
      assert.deepEqual([seen.won, seen.in_flight, seen.lost, seen.gaps, seen.took], [1, 1, 0, [100, -30], [40]]);
    }
  });

  it('a viewer that missed lost, in whichever order the lines are read', () => {
    for (const viewerFirst of [false, true]) {
      const { join, seen } = harness();
      const push = line({ role: 'push', msec: 100.2 });
      const view = line({ role: 'viewer', cache: 'MISS', msec: 100.25, requestTime: 0.1 });
      for (const l of viewerFirst ? [view, push] : [push, view]) join.add(l);
      assert.deepEqual([seen.won, seen.lost, seen.gaps], [0, 1, [-50]], `viewer line read ${viewerFirst ? 'first' : 'second'}`);
    }
  });

  it('a viewer that waited on the push (UPDATING, or a MISS after it) lost; only the first view counts', () => {
    const { join, seen } = harness();
    join.add(line({ role: 'push', msec: 100.2 }));
    join.add(line({ role: 'viewer', cache: 'UPDATING', msec: 100.3, requestTime: 0.05 }));
    join.add(line({ role: 'viewer', cache: 'HIT', msec: 101, requestTime: 0.001 }));
    assert.deepEqual([seen.won, seen.lost], [0, 1]);
  });

  it('a push that found the object cached, or failed, starts no race', () => {
    const { join, seen } = harness();
    assert.equal(join.add(line({ role: 'push', cache: 'HIT', msec: 100 })), true);
    join.add(line({ role: 'viewer', cache: 'HIT', msec: 101 }));
    assert.equal(join.add(line({ role: 'push', uri: '/photos/1/2_z.jpg', status: 404, msec: 100 })), false);
    join.add(line({ role: 'viewer', uri: '/photos/1/2_z.jpg', cache: 'MISS', msec: 101 }));
    assert.deepEqual([seen.won, seen.lost], [0, 0]);
  });

  it('colos race apart: the same path pushed to two colos has two first views', () => {
    const { join, seen } = harness();
    join.add(line({ role: 'push', msec: 100 }));
    join.add(line({ role: 'push', colo: 'ams', msec: 100 }));
    join.add(line({ role: 'viewer', cache: 'HIT', msec: 101 }));
    join.add(line({ role: 'viewer', colo: 'ams', cache: 'MISS', msec: 99.9 }));
    assert.deepEqual([seen.won, seen.lost], [1, 1]);
  });

  it("format classes race apart: a JPEG push does not decide an AVIF viewer's race, whose MISS is no loss of a race it never had", () => {
    const { join, seen } = harness();
    join.add(line({ role: 'push', msec: 100 }));
    join.add(line({ role: 'viewer', format: 'avif', cache: 'MISS', msec: 101 }));
    assert.deepEqual([seen.won, seen.lost], [0, 0]);
    join.add(line({ role: 'push', format: 'avif', msec: 102 }));
    join.add(line({ role: 'viewer', format: 'avif', cache: 'HIT', msec: 103 }));
    join.add(line({ role: 'viewer', cache: 'HIT', msec: 103 }));
    assert.deepEqual([seen.won, seen.lost], [1, 1], 'the AVIF viewer came before its push (lost); the JPEG viewer after its own (won)');
  });

  it('a push nobody views is counted unviewed when its window ends', () => {
    const { join, seen, advance } = harness();
    join.add(line({ role: 'push', msec: 100 }));
    advance(59_000);
    join.purge();
    assert.equal(seen.unviewed, 0);
    advance(2000);
    join.purge();
    assert.equal(seen.unviewed, 1);
    assert.equal(join.size, 0);
  });

  it('memory is bounded: beyond maxTracked the least recently touched pair is evicted and counted by state', () => {
    const { join, seen } = harness({ max: 100 });
    for (let i = 0; i < 250; i++) join.add(line({ role: 'push', uri: `/photos/1/${i}_z.jpg`, msec: 100 }));
    assert.equal(join.size, 100);
    assert.equal(seen.evicted.length, 150);
    assert.ok(seen.evicted.every((s) => s === 'pushed'));
  });

  it('parses a cache node line and says what is wrong with anything else', () => {
    const real =
      '{"time":"2026-11-23T21:12:10+00:00","remote":"127.0.0.1","host":"img-sin.example","method":"GET","uri":"/photos/1140/114023_z.jpg","args":"","status":200,"bytes":18007,"cache":"MISS","request_time":0.077,"upstream_time":"0.077","upstream":"127.0.0.1:8082","connection":1,"connection_requests":1,"tls_reused":"","msec":1795468330.753,"upstream_bytes":"18266","colo":"sin","node":"cache-sin-0","role":"viewer"}';
    assert.deepEqual(parseCacheLogLine(real), {
      colo: 'sin',
      node: 'cache-sin-0',
      role: 'viewer',
      uri: '/photos/1140/114023_z.jpg',
      format: 'jpeg',
      status: 200,
      bytes: 18007,
      cache: 'MISS',
      msec: 1795468330.753,
      requestTime: 0.077,
    });
    // A line from before classes is a JPEG's; a line of today names its class.
    const avif = real.replace('"colo":"sin"', '"format":"avif","colo":"sin"');
    assert.equal((parseCacheLogLine(avif) as { format: string }).format, 'avif');
    assert.equal(parseCacheLogLine(real.replace('"colo":"sin"', '"format":"gif","colo":"sin"')), 'format: expected avif, webp, jpeg (got "gif")');
    assert.equal(parseCacheLogLine('{"time":'), 'not JSON');
    assert.equal(parseCacheLogLine('7'), 'not a JSON object');
    assert.equal(parseCacheLogLine(real.replace('"role":"viewer"', '"role":"bot"')), 'role: expected push or viewer (got "bot")');
    assert.match(parseCacheLogLine(real.replace(/"msec":[0-9.]+,/, '')) as string, /missing or mistyped: msec/);
    // Fuzz: no input throws.
    const seed = Number(process.env.HEARTH_FUZZ_SEED ?? 0x10c);
    const rnd = seededRandom(seed);
    for (let i = 0; i < 2000; i++) {
      const cut = avif.slice(0, Math.floor(rnd() * avif.length)) + String.fromCharCode(Math.floor(rnd() * 128));
      assert.doesNotThrow(() => parseCacheLogLine(cut), `seed ${seed}`);
    }
  });
});
