import assert from 'node:assert/strict';
import type { Colo } from '../../warmer/colo-router.js';
import { PushScheduler, type PushJob, type PushResult, type SchedulerOptions } from '../../warmer/push-scheduler.js';

const sin: Colo = { name: 'sin', host: 'cache-sin', index: 0 };
const ams: Colo = { name: 'ams', host: 'cache-ams', index: 1 };

/** A scheduler whose pushes complete only when the test says so. */
function harness(over: Partial<SchedulerOptions> = {}) {
  let t = 1000;
  const pending: { job: PushJob; done: (r: PushResult) => void }[] = [];
  const dropped: [string, string][] = [];
  const settled: string[] = [];
  const s = new PushScheduler({
    colos: [sin, ams],
    concurrency: 4,
    perColoConcurrency: 2,
    queueMax: 10,
    breakerFailures: 3,
    breakerCooldownMs: 500,
    now: () => t,
    run: (job, done) => void pending.push({ job, done }),
    onSettled: (job) => settled.push(job.path),
    onDropped: (job, reason) => dropped.push([job.path, reason]),
    ...over,
  });
  const job = (colo: Colo, path: string, deadline = 1e12): [Colo, string, number] => [colo, path, deadline];
  const tick = () => new Promise((r) => setImmediate(r));
  return {
    s,
    pending,
    dropped,
    settled,
    job,
    tick,
    advance: (ms: number) => (t += ms),
    async complete(i: number, r: PushResult) {
      const [p] = pending.splice(i, 1);
      p?.done(r);
      await tick();
    },
  };
}
const OK: PushResult = { ok: true, failure: false };
const FAIL: PushResult = { ok: false, failure: true };

describe('push scheduler', () => {
  it('bounds concurrency overall and per colo', () => {
    const h = harness();
    for (let i = 0; i < 5; i++) h.s.enqueue(...h.job(sin, `/s${i}`));
    assert.equal(h.s.inFlight, 2, 'sin is capped at 2');
    for (let i = 0; i < 5; i++) h.s.enqueue(...h.job(ams, `/a${i}`));
    assert.equal(h.s.inFlight, 4);
    assert.equal(h.s.depth, 6);
  });

  it('sheds load beyond queueMax as overload instead of growing', () => {
    const h = harness({ concurrency: 1, perColoConcurrency: 1, queueMax: 3 });
    const verdicts = Array.from({ length: 6 }, (_, i) => h.s.enqueue(...h.job(sin, `/${i}`)));
    assert.deepEqual(verdicts, ['queued', 'queued', 'queued', 'queued', 'overload', 'overload']);
    assert.equal(h.s.depth, 3);
  });

  it('makes room by shedding stale pushes before refusing new ones', () => {
    const h = harness({ concurrency: 1, perColoConcurrency: 1, queueMax: 2 });
    h.s.enqueue(...h.job(sin, '/busy'));
    h.s.enqueue(...h.job(sin, '/old1', 1100));
    h.s.enqueue(...h.job(sin, '/old2', 1100));
    h.advance(200);
    assert.equal(h.s.enqueue(...h.job(sin, '/new', 5000)), 'queued');
    assert.deepEqual(h.dropped, [
      ['/old1', 'stale'],
      ['/old2', 'stale'],
    ]);
  });

  it('drops a queued push whose photo was taken down while it waited, and sends the others', async () => {
    const takenDown = new Set<string>();
    const h = harness({ concurrency: 1, perColoConcurrency: 1, blocked: (job) => (takenDown.has(job.path) ? 'deleted' : undefined) });
    h.s.enqueue(...h.job(sin, '/busy'));
    h.s.enqueue(...h.job(sin, '/gone'));
    h.s.enqueue(...h.job(sin, '/kept'));
    takenDown.add('/gone');
    await h.complete(0, OK);
    assert.deepEqual(h.dropped, [['/gone', 'deleted']]);
    assert.deepEqual(
      h.pending.map((p) => p.job.path),
      ['/kept'],
    );
  });

  it('drops a queued push whose hint expired before dispatch', async () => {
    const h = harness({ concurrency: 1, perColoConcurrency: 1 });
    h.s.enqueue(...h.job(sin, '/first'));
    h.s.enqueue(...h.job(sin, '/expires', 1050));
    h.s.enqueue(...h.job(sin, '/fresh', 5000));
    h.advance(100);
    await h.complete(0, OK);
    assert.deepEqual(h.dropped, [['/expires', 'stale']]);
    assert.equal(h.pending[0]?.job.path, '/fresh');
  });

  it('a stuck colo does not starve the other: it holds only its own cap, and under the global cap freed slots go round the colos', async () => {
    // sin stuck: its pushes never finish. Every ams push still flows, through the slots sin cannot take.
    const h = harness({ concurrency: 3, perColoConcurrency: 2, queueMax: 100 });
    for (let i = 0; i < 6; i++) h.s.enqueue(...h.job(sin, `/s${i}`));
    for (let i = 0; i < 10; i++) h.s.enqueue(...h.job(ams, `/a${i}`));
    for (let i = 0; i < 10; i++)
      await h.complete(
        h.pending.findIndex((p) => p.job.colo === ams),
        OK,
      );
    assert.deepEqual(
      h.settled,
      Array.from({ length: 10 }, (_, i) => `/a${i}`),
    );
    assert.equal(h.pending.filter((p) => p.job.colo === sin).length, 2, 'sin holds its own cap, no more');
    assert.equal(h.s.depth, 4, "sin's other pushes wait");
    // Both busy, every slot taken, sin queued first: each freed slot goes to the colo whose turn it is.
    const b = harness({ concurrency: 2, perColoConcurrency: 2, queueMax: 100 });
    for (let i = 0; i < 4; i++) b.s.enqueue(...b.job(sin, `/s${i}`));
    for (let i = 0; i < 4; i++) b.s.enqueue(...b.job(ams, `/a${i}`));
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const before = new Set(b.pending.map((p) => p.job.path));
      await b.complete(0, OK);
      order.push(...b.pending.map((p) => p.job.path).filter((x) => !before.has(x)));
    }
    assert.deepEqual(order, ['/a0', '/s2', '/a1', '/s3', '/a2', '/a3']);
  });

  it('opens the breaker after consecutive failures, refuses fast, probes after cooldown, recovers', async () => {
    const h = harness({ perColoConcurrency: 1 });
    for (let i = 0; i < 5; i++) h.s.enqueue(...h.job(sin, `/s${i}`));
    await h.complete(0, FAIL);
    await h.complete(0, FAIL);
    await h.complete(0, FAIL);
    assert.ok(h.s.isOpen(sin));
    assert.deepEqual(
      h.dropped.map(([, r]) => r),
      ['colo_down', 'colo_down'],
      'queued pushes shed at once',
    );
    assert.equal(h.s.enqueue(...h.job(sin, '/refused')), 'colo_down');
    assert.equal(h.s.refusal(sin), 'colo_down', 'known before any per-path work');
    assert.equal(h.s.refusal(ams), undefined);
    assert.equal(h.s.enqueue(...h.job(ams, '/a')), 'queued', 'other colo unaffected');
    h.advance(600);
    assert.equal(h.s.enqueue(...h.job(sin, '/probe')), 'queued');
    assert.equal(h.s.enqueue(...h.job(sin, '/waits')), 'queued');
    assert.equal(h.pending.filter((p) => p.job.colo === sin).length, 1, 'one probe at a time');
    await h.complete(
      h.pending.findIndex((p) => p.job.path === '/probe'),
      OK,
    );
    assert.ok(!h.s.isOpen(sin));
    assert.ok(h.pending.some((p) => p.job.path === '/waits'));
  });

  it('reports each breaker transition once: not per in-flight push that fails after it opened, not for failures that never opened it', async () => {
    const events: string[] = [];
    const h = harness({
      perColoConcurrency: 8,
      concurrency: 8,
      breakerFailures: 3,
      onBreaker: (c, open) => events.push(`${c.name} ${open ? 'open' : 'closed'}`),
    });
    h.s.enqueue(...h.job(ams, '/a1'));
    await h.complete(0, FAIL);
    h.s.enqueue(...h.job(ams, '/a2'));
    await h.complete(0, OK);
    assert.deepEqual(events, [], 'one failure below the threshold, then a success: the breaker never opened');
    for (let i = 0; i < 8; i++) h.s.enqueue(...h.job(sin, `/s${i}`));
    while (h.pending.length > 0) await h.complete(0, FAIL);
    assert.deepEqual(events, ['sin open']);
    h.advance(600);
    h.s.enqueue(...h.job(sin, '/probe'));
    await h.complete(0, FAIL);
    assert.deepEqual(events, ['sin open'], 'a failed probe keeps it open; nothing new to report');
    h.advance(600);
    h.s.enqueue(...h.job(sin, '/probe2'));
    await h.complete(0, OK);
    assert.deepEqual(events, ['sin open', 'sin closed']);
  });

  it('a failed probe opens the breaker again', async () => {
    const h = harness({ perColoConcurrency: 1, breakerFailures: 1 });
    h.s.enqueue(...h.job(sin, '/x'));
    await h.complete(0, FAIL);
    h.advance(600);
    h.s.enqueue(...h.job(sin, '/probe'));
    await h.complete(0, FAIL);
    assert.ok(h.s.isOpen(sin));
  });

  it('close drops the queue as shutdown and waits for in-flight pushes, bounded', async () => {
    const h = harness({ concurrency: 1, perColoConcurrency: 1 });
    h.s.enqueue(...h.job(sin, '/inflight'));
    h.s.enqueue(...h.job(sin, '/queued'));
    const closing = h.s.close(5000);
    assert.deepEqual(h.dropped, [['/queued', 'shutdown']]);
    assert.equal(h.s.enqueue(...h.job(sin, '/late')), 'shutdown');
    await h.complete(0, OK);
    assert.deepEqual(await closing, { abandoned: 0 });
    const h2 = harness();
    h2.s.enqueue(...h2.job(sin, '/hangs'));
    assert.deepEqual(await h2.s.close(10), { abandoned: 1 });
  });
});
