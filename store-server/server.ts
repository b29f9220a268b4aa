/**
 * `hearth store serve`: one volumes engine (store/volumes/) behind HTTP, so that every
 * tier, on this machine or another, reaches the same store (store/http-store.ts is the
 * client and documents the protocol). The engine holds its directory's lock: no other
 * process opens the volumes while this one runs.
 *
 * Tiers reach it over loopback HTTP rather than opening the engine themselves: the engine
 * is one writer (group commit, the index in one process's memory), and the tiers are
 * separate processes. Viewers' reads come from the origin front (nginx), which asks here
 * first for image paths only (GET and HEAD) and passes a 404 on to the origin service;
 * nothing else of it is behind a cache.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import {
  closeServer,
  createLogger,
  createMetrics,
  createRegistry,
  HearthError,
  listen,
  readiness,
  statusRoutes,
  type Logger,
  type Metrics,
} from '../common/index.js';
import {
  checkFinding,
  COPY_HEADER,
  decodeMetaHeader,
  encodeMetaHeader,
  MAX_BYTES_HEADER,
  META_HEADER,
  VolumeEngine,
  type EngineObserver,
} from '../store/index.js';
import { imageEtag } from '../image/index.js';
import type { StoreServerConfig } from './config.js';
import { STORE_METRICS, STORE_OPS, STORE_RESULTS } from './metrics.js';

type Op = (typeof STORE_OPS)[number];
type Result = (typeof STORE_RESULTS)[number];

/** HTTP status and metric result for each error a driver raises. */
const ERRORS: Record<string, { status: number; result: Result }> = {
  HEARTH_ERR_NOT_FOUND: { status: 404, result: 'not_found' },
  HEARTH_ERR_INTEGRITY: { status: 500, result: 'damaged' },
  HEARTH_ERR_STORE_FULL: { status: 507, result: 'full' },
  HEARTH_ERR_STORE_ESCAPE: { status: 400, result: 'refused' },
  HEARTH_ERR_INVALID: { status: 400, result: 'refused' },
  HEARTH_ERR_TOO_LARGE: { status: 413, result: 'refused' },
  HEARTH_ERR_KEY_COLLISION: { status: 409, result: 'refused' },
};

/** What the origin front passes on to the caches: the type a file's extension says, as nginx would. */
const contentType = (key: string): string =>
  key.endsWith('.jpg') ? 'image/jpeg' : key.endsWith('.jxl') ? 'image/jxl' : key.endsWith('.json') ? 'application/json' : 'application/octet-stream';

/**
 * One `bytes=a-b` (or `a-`, or `-n`) range of an object of `size` bytes, inclusive; null
 * for no range header or one this server does not take (several ranges, other units),
 * which HTTP lets a server answer with the whole object.
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start >= size || end < start ? 'unsatisfiable' : { start, end };
}

export class StoreServer {
  readonly registry: Registry = createRegistry();
  readonly metrics: Metrics<typeof STORE_METRICS>;
  private readonly log: Logger;
  private engine: VolumeEngine | undefined;
  private server: Server | undefined;
  private statusServer: Server | undefined;
  private stats: Awaited<ReturnType<VolumeEngine['stats']>> | undefined;
  private statsTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: StoreServerConfig,
    logger?: Logger,
  ) {
    this.log = logger ?? createLogger('store', config.log.level);
    this.metrics = createMetrics(STORE_METRICS, this.registry);
    for (const op of STORE_OPS) for (const r of STORE_RESULTS) this.metrics.requests.labels(op, r).inc(0);
    this.metrics.integrity.inc(0);
    this.metrics.torn.inc(0);
    this.metrics.full.inc(0);
  }

  async start(): Promise<AddressInfo> {
    const dir = this.config.volumes.dir;
    const observer: EngineObserver = {
      committed: (writes, seconds) => {
        this.metrics.batch.observe(writes);
        this.metrics.commit.observe(seconds);
      },
      damaged: () => this.metrics.integrity.inc(),
      tornTail: () => this.metrics.torn.inc(),
      full: () => this.metrics.full.inc(),
    };
    const t0 = performance.now();
    this.engine = await VolumeEngine.open({
      dir,
      volumeBytes: this.config.volumes.volumeBytes,
      minFreeBytes: this.config.volumes.minFreeBytes,
      log: this.log,
      observer,
    });
    await this.refreshStats();
    this.log.info({ dir, objects: this.stats?.objects, volumes: this.stats?.volumes, ms: Math.round(performance.now() - t0) }, 'volumes loaded');
    // Stats walk every volume: once a few seconds, not on every scrape.
    this.statsTimer = setInterval(() => void this.refreshStats(), 5000);
    this.statsTimer.unref();
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await listen(this.server, this.config.listen.port, this.config.listen.host);
    const status = statusRoutes(this.registry, {
      refresh: () => this.setGauges(),
      health: () => ({ objects: this.stats?.objects, volumes: this.stats?.volumes }),
      ready: async () => readiness({ store: (await this.engine?.ready()) ?? 'not open' }),
    });
    this.statusServer = createServer((req, res) => {
      if (status(req, res)) return;
      void this.admin(req, res);
    });
    await listen(this.statusServer, this.config.http.port, this.config.http.host);
    const a = this.server.address() as AddressInfo;
    this.log.info({ listen: `${a.address}:${a.port}`, http: this.statusAddress() }, 'store listening');
    return a;
  }

  statusAddress(): string | undefined {
    const m = this.statusServer?.address() as AddressInfo | undefined;
    return m ? `${m.address}:${m.port}` : undefined;
  }

  async stop(): Promise<void> {
    clearInterval(this.statsTimer);
    if (this.server) await closeServer(this.server);
    if (this.statusServer) await closeServer(this.statusServer);
    await this.engine?.close();
  }

  private async refreshStats(): Promise<void> {
    if (this.engine) this.stats = await this.engine.stats();
    this.setGauges();
  }

  private setGauges(): void {
    const s = this.stats;
    if (!s) return;
    this.metrics.objects.set(s.objects);
    this.metrics.bytes.set(s.bytes);
    this.metrics.live.set(s.liveBytes);
    this.metrics.garbage.set(s.garbageRatio);
    this.metrics.index.set(s.indexBytes);
    this.metrics.free.set(s.freeBytes);
    this.metrics.reserve.set(this.config.volumes.minFreeBytes);
    this.metrics.volumes.set(s.volumes);
  }

  /** `GET /stats` (the engine's figures as JSON) and `POST /compact?volume=NAME` on the status listener. */
  private async admin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://store');
    const json = (status: number, body: unknown): void =>
      void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
    try {
      if (url.pathname === '/stats' && req.method === 'GET') {
        await this.refreshStats();
        return json(200, this.stats);
      }
      if (url.pathname === '/compact' && req.method === 'POST') {
        const volume = url.searchParams.get('volume') ?? '';
        const t0 = performance.now();
        const r = await this.engine!.compact(volume);
        this.log.info({ volume, ...r, ms: Math.round(performance.now() - t0) }, 'volume compacted');
        await this.refreshStats();
        return json(200, { volume, ...r });
      }
      if (url.pathname === '/verify' && req.method === 'POST') {
        const rate = Number(url.searchParams.get('mb-per-s') ?? 0);
        const t0 = performance.now();
        const r = await this.engine!.verify({ bytesPerSecond: rate > 0 ? rate * 1e6 : undefined });
        this.log.info({ checked: r.checked, bytes: r.bytes, damaged: r.damaged.length, ms: Math.round(performance.now() - t0) }, 'volumes verified');
        return json(200, r);
      }
      json(404, { message: 'not found; try /metrics, /healthz, /readyz, GET /stats, POST /compact?volume=NAME or POST /verify?mb-per-s=N' });
    } catch (err) {
      const e = err as HearthError;
      json(ERRORS[e.code]?.status ?? 500, { code: e.code, message: e.message });
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const engine = this.engine!;
    const url = new URL(req.url ?? '/', 'http://store');
    const t0 = process.hrtime.bigint();
    let op: Op = 'get';
    const done = (status: number, result: Result, headers: Record<string, string | number> = {}, body?: Buffer | string): void => {
      this.metrics.requests.labels(op, result).inc();
      this.metrics.duration.labels(op, engine.driver).observe(Number(process.hrtime.bigint() - t0) / 1e9);
      // An object read is what the origin front passes on to the caches: cacheable, as a file nginx serves is; anything else is not.
      const read = status === 200 && (op === 'get' || op === 'head');
      res.writeHead(status, { ...(read ? {} : { 'cache-control': 'no-store' }), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const fail = (err: unknown, key: string): void => {
      const e = err as HearthError;
      const known = ERRORS[e.code];
      if (!known) this.log.error({ err, op, key }, 'store request failed');
      done(known?.status ?? 500, known?.result ?? 'error', { 'content-type': 'application/json' }, `${JSON.stringify({ code: e.code, message: e.message })}\n`);
    };
    if (url.pathname === '/' && url.searchParams.has('ready')) {
      const ready = await engine.ready();
      res
        .writeHead(ready === true ? 200 : 503, {
          'cache-control': 'no-store',
          ...(ready === true ? {} : { 'x-hearth-not-ready': ready.replace(/[^\x20-\x7e]/g, '?') }),
        })
        .end();
      return;
    }
    if (url.pathname === '/' && url.searchParams.has('list')) {
      op = 'list';
      try {
        const lines: string[] = [];
        for await (const o of engine.list(url.searchParams.get('list') ?? '/')) lines.push(JSON.stringify(o));
        return done(200, 'ok', { 'content-type': 'application/x-ndjson' }, lines.length ? `${lines.join('\n')}\n` : '');
      } catch (err) {
        return fail(err, url.searchParams.get('list') ?? '');
      }
    }
    if (url.pathname === '/' && url.searchParams.has('damaged')) {
      op = 'report_damage';
      if (req.method !== 'POST') return done(405, 'refused', { allow: 'POST' });
      try {
        const finding = checkFinding(JSON.parse((await this.body(req, 8192)).toString('utf8')) as unknown);
        this.log.error({ ...finding, repair: true }, 'damage reported by a tier; added to the repair list');
        await engine.reportDamage(finding);
        return done(204, 'ok');
      } catch (err) {
        return fail(err instanceof SyntaxError ? new HearthError('HEARTH_ERR_INVALID', 'a damage finding must be JSON') : err, '');
      }
    }
    const key = decodeURI(url.pathname);
    try {
      switch (req.method) {
        case 'GET':
        case 'HEAD': {
          op = req.method === 'GET' ? 'get' : 'head';
          if (req.method === 'HEAD') {
            const info = await engine.head(key);
            if (!info) return done(404, 'not_found');
            return done(200, 'ok', {
              'content-type': contentType(key),
              'content-length': info.size,
              ...(Object.keys(info.meta).length ? { [META_HEADER]: encodeMetaHeader(info.meta) } : {}),
            });
          }
          const max = Number(req.headers[MAX_BYTES_HEADER] ?? this.config.maxObjectBytes);
          const n = await engine.read(key, Number.isFinite(max) && max > 0 ? max : this.config.maxObjectBytes);
          const range = byteRange(req.headers.range, n.data.length);
          if (range === 'unsatisfiable') return done(416, 'ok', { 'content-range': `bytes */${n.data.length}` });
          if (range)
            return done(
              206,
              'ok',
              {
                'content-type': contentType(key),
                'content-range': `bytes ${range.start}-${range.end}/${n.data.length}`,
                'content-length': range.end - range.start + 1,
              },
              n.data.subarray(range.start, range.end + 1),
            );
          // The ETag the origin service gives the same bytes: the front serves stored objects from here.
          return done(
            200,
            'ok',
            {
              'content-type': contentType(key),
              'content-length': n.data.length,
              etag: imageEtag(n.data),
              ...(Object.keys(n.meta).length ? { [META_HEADER]: encodeMetaHeader(n.meta) } : {}),
            },
            n.data,
          );
        }
        case 'PUT': {
          const from = req.headers[COPY_HEADER];
          if (typeof from === 'string') {
            op = 'copy';
            await engine.copy(decodeURI(from), key);
            return done(200, 'ok');
          }
          const createOnly = req.headers['if-none-match'] === '*';
          op = createOnly ? 'put_if_absent' : 'put';
          const data = await this.body(req);
          const meta = decodeMetaHeader(req.headers[META_HEADER]);
          if (createOnly) return (await engine.putIfAbsent(key, data, meta)) ? done(201, 'ok') : done(412, 'exists');
          await engine.put(key, data, meta);
          return done(200, 'ok');
        }
        case 'DELETE':
          op = 'delete';
          return (await engine.delete(key)) ? done(204, 'ok') : done(404, 'not_found');
        case undefined:
        default:
          return done(405, 'refused', { allow: 'GET, HEAD, PUT, DELETE' });
      }
    } catch (err) {
      fail(err, key);
    }
  }

  /** A request body, refused past `maxObjectBytes` before it is all read. */
  private async body(req: IncomingMessage, max = this.config.maxObjectBytes): Promise<Buffer> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) throw new HearthError('HEARTH_ERR_TOO_LARGE', `a put of ${declared} bytes is over the ${max} this store takes`);
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const c of req) {
      got += (c as Buffer).length;
      if (got > max) throw new HearthError('HEARTH_ERR_TOO_LARGE', `a put of over ${max} bytes is over what this store takes`);
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }
}
