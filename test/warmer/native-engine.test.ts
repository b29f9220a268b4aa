/**
 * The native engine (warmer/native/) against real sockets: its push client against an
 * HTTP server where HTTP is enough and raw TCP servers for the faults a real proxy rarely
 * shows on demand (a kept-alive connection closed under a request, garbage, a response
 * cut into single bytes), and its hint socket; and what its header shares with TypeScript.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { CLASS_ACCEPT, FORMAT_CLASSES, type FormatClass, computeSignature, MAX_DATAGRAM_BYTES, SIG_CHARS, SIG_MEMBER } from '@hearth/api-hook';
import { ERROR_CODES, REASON_CODES, seededRandom } from '../../common/index.js';
import { nativeEngineAddon } from '../../warmer/native-addon.js';
import { NativeEngine } from '../../warmer/native-engine.js';
import { CACHE_STATUSES, type PushReport } from '../../warmer/push-client.js';

const addon = nativeEngineAddon();

async function listening<T extends Server | HttpServer>(server: T): Promise<{ server: T; url: string; close: () => Promise<void> }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A raw TCP server: `onRequest(socket, n)` for the n-th request head (0-based) on each connection. */
function rawServer(
  onRequest: (socket: Socket, n: number, head: string) => void,
): Promise<{ server: Server; url: string; close: () => Promise<void>; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    let buf = '';
    let n = 0;
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        onRequest(socket, n++, head);
      }
    });
  });
  return listening(server).then((l) => ({ ...l, connections: () => connections }));
}

function client(url: string, o: Partial<{ hosts: string[]; connections: number; timeoutMs: number; method: 'HEAD' | 'GET' }> = {}): NativeEngine {
  assert.ok(addon, 'infra/setup.sh builds .cache/bin/hearth-push.node');
  return new NativeEngine(addon, {
    proxy: url,
    method: o.method ?? 'HEAD',
    connections: o.connections ?? 4,
    timeoutMs: o.timeoutMs ?? 2000,
    userAgent: 'hearth-test',
    hosts: o.hosts ?? ['cache-a.test', 'cache-b.test'],
  });
}

const push = (c: NativeEngine, colo: number, path: string, format: FormatClass = 'jpeg'): Promise<PushReport> =>
  new Promise((r) => c.pushes.push(colo, '', path, format, r));

describe('the native engine and TypeScript', () => {
  it('agree on what they share: cache statuses, error codes, the signature member, datagram room, a variant per format class', () => {
    assert.ok(addon, 'infra/setup.sh builds .cache/bin/hearth-push.node');
    const c = addon.constants;
    // The undici client reports by the same names, so a dashboard cannot tell which client pushed.
    assert.deepEqual(c.cacheStatuses, [...CACHE_STATUSES]);
    // Every code a push report can name is in the one table; the others are errno names.
    const codes = new Set([...Object.keys(ERROR_CODES), ...Object.keys(REASON_CODES)]);
    for (const [kind, name] of c.kinds.entries()) {
      if (kind === 0) assert.equal(name, '');
      else if (c.errnoKinds.includes(kind)) assert.match(name, /^[a-z]+$/);
      else assert.ok(codes.has(name), `kind ${kind}: ${name} is not in common/errors.ts`);
    }
    assert.equal(c.sigMember, SIG_MEMBER);
    assert.equal(c.sigChars, SIG_CHARS);
    assert.ok(c.datagramSlot > MAX_DATAGRAM_BYTES, 'a whole hint fits in a slot: only oversized datagrams are cut');
    assert.ok(c.cacheStatuses.length < Math.min(c.cacheOther, 1 << (c.recordKindShift - c.recordCacheShift)));
    assert.ok(c.maxKeys < Math.min(c.sigNotThere, c.sigNoMatch));
    assert.deepEqual(new Set([c.sigNotChecked, c.sigNoMatch, c.sigNotThere]).size, 3);
    // Every class's push has its own request (its Accept), built at create.
    assert.ok(FORMAT_CLASSES.length <= c.maxVariants);
    for (const f of FORMAT_CLASSES) assert.ok(CLASS_ACCEPT[f].length <= c.acceptMaxBytes, f);
  });
});

describe('native engine (real sockets)', function () {
  this.timeout(20000);
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });
  async function started(url: string, o?: Parameters<typeof client>[1]): Promise<NativeEngine> {
    const c = client(url, o);
    await c.open();
    open.push(c);
    return c;
  }

  it("sends HEAD with the colo's Host and its format class's Accept, and reads status and X-Cache-Status into the outcome", async () => {
    const seen: { method?: string; url?: string; host?: string; ua?: string; warm?: string; accept?: string }[] = [];
    const answers: Record<string, [number, string | undefined]> = {
      '/hit': [200, 'HIT'],
      '/miss': [200, 'miss'],
      '/odd': [200, 'WEIRD'],
      '/none': [204, undefined],
      '/gone': [404, 'HIT'],
      '/down': [503, undefined],
    };
    const http = await listening(
      createHttpServer((req, res) => {
        seen.push({
          method: req.method,
          url: req.url,
          host: req.headers.host,
          ua: req.headers['user-agent'],
          warm: req.headers['x-hearth-warm'] as string,
          accept: req.headers.accept,
        });
        const [status, cache] = answers[req.url ?? ''] ?? [500, undefined];
        res.writeHead(status, cache ? { 'X-Cache-Status': cache } : {});
        res.end();
      }),
    );
    open.push(http);
    const c = await started(http.url);
    const r = await Promise.all(Object.keys(answers).map((p) => push(c, 1, p)));
    assert.deepEqual(
      r.map((x) => [x.outcome, x.ok, x.failure, x.status, x.cache]),
      [
        ['hit', true, false, 200, 'hit'],
        ['miss', true, false, 200, 'miss'],
        ['2xx', true, false, 200, 'other'],
        ['2xx', true, false, 204, undefined],
        ['4xx', false, false, 404, 'hit'],
        ['5xx', false, true, 503, undefined],
      ],
    );
    assert.ok(
      seen.every((s) => s.method === 'HEAD' && s.host === 'cache-b.test' && s.ua === 'hearth-test' && s.warm === '1' && s.accept === CLASS_ACCEPT.jpeg),
    );
    assert.ok(r.every((x) => x.seconds > 0 && x.seconds < 2));
    seen.length = 0;
    for (const f of FORMAT_CLASSES) assert.equal((await push(c, 1, '/hit', f)).outcome, 'hit');
    assert.deepEqual(
      seen.map((s) => s.accept),
      FORMAT_CLASSES.map((f) => CLASS_ACCEPT[f]),
    );
  });

  it('drains GET bodies (length and chunked) and keeps the connection for the next push', async () => {
    const conns = new Set<number>();
    let next = 0;
    const ids = new WeakMap<Socket, number>();
    const http = await listening(
      createHttpServer((req, res) => {
        if (!ids.has(req.socket)) ids.set(req.socket, next++);
        conns.add(ids.get(req.socket) as number);
        res.setHeader('X-Cache-Status', 'MISS');
        if (req.url === '/chunked') {
          res.write(Buffer.alloc(70_000, 1));
          res.end(Buffer.alloc(10, 2));
        } else res.end(Buffer.alloc(100_000, 3));
      }),
    );
    open.push(http);
    const c = await started(http.url, { method: 'GET', connections: 1 });
    for (let i = 0; i < 6; i++) assert.equal((await push(c, 0, i % 2 ? '/chunked' : '/length')).outcome, 'miss');
    assert.equal(conns.size, 1, 'one kept-alive connection carried all six');
    assert.equal(c.pushes.connections(0), 1);
    assert.deepEqual(c.pushes.counters(0), { connects: 1, connectFailures: 0, retries: 0 });
  });

  it('reads a response cut into single bytes, skips a 1xx, and opens a new connection after Connection: close', async () => {
    const raw = await rawServer((s, n) => {
      const text = `HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Cache-Status: HIT\r\n${n === 0 ? 'Connection: close\r\n' : ''}\r\n`;
      let i = 0;
      const drip = (): void => {
        if (i < text.length) {
          s.write(text[i++] as string);
          setTimeout(drip, 0);
        } else if (n === 0) s.end();
      };
      drip();
    });
    open.push(raw);
    const c = await started(raw.url, { connections: 1 });
    const a = await push(c, 0, '/x');
    const b = await push(c, 0, '/y');
    assert.deepEqual([a.outcome, a.status, b.outcome, b.status], ['hit', 200, 'hit', 200]);
    assert.equal(raw.connections(), 2);
  });

  it('sends a push again, once, when the proxy closed the kept-alive connection under it', async () => {
    // The second request on every connection is met with a close and no answer.
    const raw = await rawServer((s, n) => {
      if (n === 1) s.destroy();
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Cache-Status: MISS\r\n\r\n');
    });
    open.push(raw);
    const c = await started(raw.url, { connections: 1 });
    assert.equal((await push(c, 0, '/1')).outcome, 'miss');
    assert.equal((await push(c, 0, '/2')).outcome, 'miss', 'retried on a new connection');
    assert.equal(c.pushes.counters(0).retries, 1);
    assert.equal(raw.connections(), 2);
  });

  it('fails a push whose fresh connection closes without an answer, never retrying it', async () => {
    const raw = await rawServer((s) => s.destroy());
    open.push(raw);
    const c = await started(raw.url);
    const r = await push(c, 0, '/x');
    assert.deepEqual([r.outcome, r.failure, r.errorCode === 'HEARTH_ERR_CLOSED' || r.errorCode === 'ECONNRESET'], ['error', true, true]);
    assert.equal(c.pushes.counters(0).retries, 0);
  });

  it('names refused connections, timeouts and garbage', async () => {
    const dead = await listening(createServer());
    const deadUrl = dead.url;
    await dead.close();
    const refused = await started(deadUrl);
    const r1 = await push(refused, 0, '/x');
    assert.deepEqual([r1.outcome, r1.errorCode, r1.failure], ['error', 'ECONNREFUSED', true]);
    assert.equal(refused.pushes.counters(0).connectFailures, 1);

    const hang = await rawServer(() => {});
    open.push(hang);
    const slow = await started(hang.url, { timeoutMs: 200 });
    const t0 = Date.now();
    const r2 = await push(slow, 0, '/x');
    assert.deepEqual([r2.outcome, r2.errorCode], ['error', 'HEARTH_ERR_TIMEOUT']);
    assert.ok(Date.now() - t0 >= 190 && Date.now() - t0 < 1500, `${Date.now() - t0} ms`);

    const junk = await rawServer((s) => s.write('SSH-2.0-OpenSSH\r\n\r\n'));
    open.push(junk);
    const r3 = await push(await started(junk.url), 0, '/x');
    assert.deepEqual([r3.outcome, r3.errorCode], ['error', 'HEARTH_ERR_BAD_RESPONSE']);
  });

  it('refuses a path that cannot go on a request line, sending nothing', async () => {
    const raw = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    open.push(raw);
    const c = await started(raw.url);
    for (const bad of ['/a b', '/a\r\nX: y', '/é', 'relative', '', `/${'a'.repeat(5000)}`]) {
      const r = await push(c, 0, bad);
      assert.deepEqual([r.outcome, r.errorCode], ['error', 'HEARTH_ERR_PATH'], JSON.stringify(bad));
    }
    assert.equal(raw.connections(), 0);
  });

  it("a slow colo holds only its own connections: the other colo's pushes go through at once", async () => {
    const http = await listening(
      createHttpServer((req, res) => {
        const answer = (): void => void res.writeHead(200, { 'X-Cache-Status': 'MISS' }).end();
        if (req.headers.host === 'cache-a.test') setTimeout(answer, 1500);
        else answer();
      }),
    );
    open.push(http);
    const c = await started(http.url, { connections: 2 });
    const slow = [push(c, 0, '/s1'), push(c, 0, '/s2')];
    const t0 = Date.now();
    const fast = await Promise.all(Array.from({ length: 20 }, (_, i) => push(c, 1, `/f${i}`)));
    assert.ok(Date.now() - t0 < 1000, `fast colo took ${Date.now() - t0} ms behind the slow one`);
    assert.ok(fast.every((r) => r.outcome === 'miss'));
    assert.ok((await Promise.all(slow)).every((r) => r.outcome === 'miss'));
  });

  it('survives a fuzzed proxy: every push gets exactly one report, and the client keeps working', async () => {
    const rnd = seededRandom(4711);
    const pieces = [
      'HTTP/1.1 ',
      '200',
      ' OK\r\n',
      'Content-Length: ',
      '3',
      '-1',
      '99999999999999999999',
      '\r\n',
      'Transfer-Encoding: chunked\r\n',
      'X-Cache-Status: ',
      'HIT',
      '\r\n\r\n',
      'abc',
      '0\r\n\r\n',
      'zz',
      '\x00\xff',
      'HTTP/1.0 101 Switching\r\nUpgrade: x\r\n\r\n',
    ];
    const raw = await rawServer((s) => {
      let out = '';
      const k = 1 + Math.floor(rnd() * 8);
      for (let i = 0; i < k; i++) out += pieces[Math.floor(rnd() * pieces.length)];
      if (rnd() < 0.5) s.write(out, 'latin1');
      else s.end(out, 'latin1');
    });
    open.push(raw);
    const c = await started(raw.url, { connections: 8, timeoutMs: 300 });
    // Every report of every push counted, not only the first: a second one must show.
    const reports = new Map<string, PushReport[]>();
    await new Promise<void>((resolve) => {
      let first = 0;
      for (let i = 0; i < 400; i++) {
        const path = `/p${i}`;
        c.pushes.push(i % 2, '', path, 'jpeg', (r) => {
          reports.set(path, [...(reports.get(path) ?? []), r]);
          if (reports.get(path)!.length === 1 && ++first === 400) resolve();
        });
      }
    });
    // Longer than a push's timeout: a late second report has had its chance.
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(
      [...reports].filter(([, rs]) => rs.length !== 1).map(([p, rs]) => `${p}: ${rs.length}`),
      [],
      'one report per push',
    );
    const outcomes = new Set([...reports.values()].map(([r]) => r!.outcome));
    for (const o of outcomes) assert.ok(/^(error|[1-5]xx|hit|miss|expired|stale|updating|revalidated|bypass)$/.test(o), `outcome ${o}`);
    assert.ok(
      [...reports.values()].every(([r]) => r!.outcome !== 'error' || /^[A-Z_]+$/.test(r!.errorCode ?? '')),
      'every error names its code',
    );
    const good = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Cache-Status: HIT\r\n\r\n'));
    open.push(good);
    assert.equal((await push(await started(good.url), 0, '/after')).outcome, 'hit');
  });

  it('closes with pushes in flight: they are abandoned, nothing is reported after', async () => {
    const hang = await rawServer(() => {});
    open.push(hang);
    const c = client(hang.url);
    await c.open();
    let reported = 0;
    for (let i = 0; i < 10; i++) c.pushes.push(0, '', `/x${i}`, 'jpeg', () => reported++);
    await new Promise((r) => setTimeout(r, 100));
    await c.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(reported, 0);
    const after = await new Promise<PushReport>((r) => c.pushes.push(0, '', '/late', 'jpeg', r));
    assert.equal(after.errorCode, 'HEARTH_ERR_CLOSED');
  });

  it('checks signatures on its own thread: which key signed each datagram, as the warmer checks them', async () => {
    const c = await started('http://127.0.0.1:9');
    const keys = [Buffer.from('the first key, sixteen+'), Buffer.from('k'.repeat(100))]; // the second longer than a SHA-256 block
    const got: [string, number | undefined][] = [];
    const receiver = c.hints;
    const bound = await receiver.listen({
      host: '127.0.0.1',
      port: 0,
      recvBufferBytes: 1 << 20,
      keys,
      onDatagram: (b, signedBy) => got.push([b.toString(), signedBy]),
      onError: () => {},
    });
    const unsigned = '{"v":1,"ts":1,"colo":"sin","paths":["/a.jpg"],"kid":"x"';
    const signed = (k: Buffer): string => `${unsigned},"sig":"${computeSignature(k, unsigned)}"}`;
    const forged = signed(keys[0] as Buffer).replace('/a.jpg', '/b.jpg');
    const sent = [signed(keys[0] as Buffer), signed(keys[1] as Buffer), forged, `${unsigned}}`, `${signed(keys[0] as Buffer)} `];
    const sender = dgram.createSocket('udp4');
    for (const d of sent) sender.send(d, bound.port, '127.0.0.1');
    for (let i = 0; i < 100 && got.length < sent.length; i++) await new Promise((r) => setTimeout(r, 10));
    sender.close();
    assert.deepEqual(
      got,
      sent.map((d, i) => [d, [0, 1, -1, undefined, undefined][i]]),
    );
    await receiver.close();
  });

  it('receives hints on its own socket, byte for byte, many per wake-up; a port in use is named', async () => {
    const c = await started('http://127.0.0.1:9');
    const got: Buffer[] = [];
    const receiver = c.hints;
    const bound = await receiver.listen({
      host: '127.0.0.1',
      port: 0,
      recvBufferBytes: 1 << 20,
      onDatagram: (b) => got.push(Buffer.from(b)),
      onError: () => {},
    });
    const sender = dgram.createSocket('udp4');
    const sent = [
      Buffer.from('{"v":1}'),
      Buffer.alloc(1400, 0x61),
      Buffer.alloc(1, 0),
      Buffer.alloc(6000, 0x62),
      ...Array.from({ length: 300 }, (_, i) => Buffer.from(`hint ${i}`)),
    ];
    for (const d of sent) sender.send(d, bound.port, '127.0.0.1');
    for (let i = 0; i < 100 && got.length < sent.length; i++) await new Promise((r) => setTimeout(r, 10));
    sender.close();
    assert.equal(got.length, sent.length);
    assert.deepEqual(got.slice(0, 3), sent.slice(0, 3));
    // Over 4,096 bytes only the start is kept: more than any hint may be, so still refused as invalid.
    assert.deepEqual(got[3], sent[3]?.subarray(0, 4096));
    assert.deepEqual(got.slice(4).map(String), sent.slice(4).map(String));
    const other = await started('http://127.0.0.1:9');
    await assert.rejects(other.hints.listen({ host: '127.0.0.1', port: bound.port, recvBufferBytes: 1 << 20, onDatagram: () => {}, onError: () => {} }), {
      code: 'EADDRINUSE',
    });
    await receiver.close();
  });
});
