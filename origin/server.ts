/**
 * The origin service: image paths of the store, nothing else. A stored file is served
 * as is; a ladder size that is not stored is made on the fly from the largest stored
 * size of the same image (and stored, if configured); an original kept only as JPEG XL
 * is reconstructed and checked against its recorded digest. Any other path is 404
 * without any work. On-the-fly work is bounded (past `maxConcurrent` running and
 * `maxQueue` waiting, 503 with Retry-After) and coalesced: concurrent requests for one
 * path share one piece of work. Errors are `no-store`, so no cache keeps them.
 * The identity tier's verdicts hold for every path of an image: a quarantined image is
 * 451 (never served, never cached), a duplicate is served from the image it duplicates
 * (or from its own original, once that one is deleted); a deleted photo is 410 for good.
 * What is made on the fly is checked against the verdict again after the work, so a
 * delete during it neither gets an answer nor leaves a stored size (image/takedown.ts).
 * `/metrics` and `/healthz` are on a listener of their own, never behind the caches.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createLogger, type Logger, createMetrics, createRegistry, type Metrics, closeServer, listen, createStatusServer, readiness } from '../common/index.js';
import { DamagedObjectError, ObjectNotFoundError, StoreEscapeError, openStore, type ObjectStore } from '../store/index.js';
import {
  imagePath,
  parseServedPath,
  readSecrets,
  sameSecret,
  secretImagePath,
  originalPath,
  INTEGRITY_REASONS,
  IntegrityError,
  reconstructChecked,
  CpuBackend,
  DEFAULT_LADDER,
  type SizeSpec,
  readVerdict,
  isTakenDown,
  createUnlessTakenDown,
  servedOriginal,
  MetadataError,
  imageEtag,
  type Verdict,
  cacheKey,
  formatClass,
  servedFormat,
  variantEncode,
  DEFAULT_FORMATS,
  FORMAT_MEDIA_TYPES,
  variantPath,
  storedEncoding,
  ORIGINAL_MEDIA_TYPES,
  originalFormat,
  sweepDecodeTemps,
  type FormatClass,
  type FormatsConfig,
} from '../image/index.js';
import type { EncodeOptions, ResizeBackend } from '../image/index.js';
import { ORIGIN_METRICS, ORIGIN_RESULTS } from './metrics.js';

export interface OriginOptions {
  store: string;
  host: string;
  port: number;
  /** `/metrics` and `/healthz`; not started when absent. */
  metrics?: { host: string; port: number };
  ladder?: readonly SizeSpec[];
  /** Write derived sizes into the store, so the next request is a plain file. */
  storeDerived: boolean;
  maxConcurrent: number;
  maxQueue: number;
  encode: EncodeOptions;
  /** The encodings besides JPEG made for clients that accept them (default: AVIF and WebP, image/formats.ts). */
  formats?: FormatsConfig;
  backend?: ResizeBackend;
  logger?: Logger;
}

/** Error answers (5xx, 405): no cache may keep them. */
/** How long a JPEG served in place of a busy origin's AVIF or WebP may be cached: the cache asks for the encoding again after it. */
export const FALLBACK_MAX_AGE_S = 30;

const ERROR_HEADERS = { 'content-type': 'text/plain', 'cache-control': 'no-store' };

export class OriginServer {
  readonly registry: Registry = createRegistry();
  readonly metrics: Metrics<typeof ORIGIN_METRICS>;
  private readonly ladder: readonly SizeSpec[];
  private readonly store: ObjectStore;
  private readonly backend: ResizeBackend;
  private readonly formats: FormatsConfig;
  private readonly log: Logger;
  private server: Server | undefined;
  private statusServer: Server | undefined;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Work running now, by path: a second request for the same path waits for it. */
  private readonly inflight = new Map<string, Promise<Buffer | 'overload'>>();
  /** Damaged files already reported this run, so a hot path does not flood the report. */
  private readonly reported = new Set<string>();

  constructor(private readonly o: OriginOptions) {
    this.ladder = o.ladder ?? DEFAULT_LADDER;
    this.store = openStore(o.store);
    this.backend = o.backend ?? new CpuBackend(1);
    this.formats = o.formats ?? DEFAULT_FORMATS;
    this.log = o.logger ?? createLogger('origin');
    this.metrics = createMetrics(ORIGIN_METRICS, this.registry);
    // Every result at 0 from the start, so a rate or an alert on it has a series to watch.
    for (const r of ORIGIN_RESULTS) this.metrics.requests.labels(r).inc(0);
    for (const r of INTEGRITY_REASONS) this.metrics.integrity.labels(r).inc(0);
    // And each variant's time from zero, so its first encode shows as a rate (a series born at 1 has none).
    for (const f of this.formats.serve) for (const sz of this.ladder) this.metrics.variant.zero({ format: f, size: sz.name });
  }

  async start(): Promise<AddressInfo> {
    await sweepDecodeTemps();
    this.server = createServer((req, res) => void this.handle(req, res));
    await listen(this.server, this.o.port, this.o.host);
    const a = this.server.address() as AddressInfo;
    let metricsAt: string | undefined;
    if (this.o.metrics) {
      this.statusServer = createStatusServer(this.registry, {
        refresh: () => this.metrics.inFlight.set(this.running),
        health: () => ({ running: this.running, waiting: this.waiting.length }),
        ready: async () => readiness({ store: await this.store.ready() }),
      });
      await listen(this.statusServer, this.o.metrics.port, this.o.metrics.host);
      const m = this.statusServer.address() as AddressInfo;
      metricsAt = `${m.address}:${m.port}`;
    }
    this.log.info({ http: `${a.address}:${a.port}`, metrics: metricsAt, store: this.o.store, maxConcurrent: this.o.maxConcurrent }, 'origin listening');
    return a;
  }

  /** Where `/metrics` and `/healthz` listen, once started with `metrics`. */
  metricsAddress(): AddressInfo | undefined {
    return this.statusServer?.address() as AddressInfo | undefined;
  }

  async stop(): Promise<void> {
    if (this.server) await closeServer(this.server);
    if (this.statusServer) await closeServer(this.statusServer);
    await this.store.close();
  }

  private send(res: ServerResponse, req: IncomingMessage, status: number, body: Buffer | string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, req, 405, 'method not allowed\n', { allow: 'GET, HEAD', ...ERROR_HEADERS });
    const p = parseServedPath(path);
    const spec = p?.size !== undefined ? this.ladder.find((s) => s.name === p.size) : undefined;
    // Outside the layout, outside the ladder, or a directory that does not match the id: no work.
    if (!p || (p.size !== undefined && (!spec || path !== (p.secret ? secretImagePath(p.id, p.secret, p.size) : imagePath(p.id, p.size)))))
      return this.notFound(req, res);
    const id = p.id;
    try {
      // The path is the photo's only with the photo's secret (and, for a photo stored before
      // secrets, only without one). A wrong secret is answered as a photo that does not exist:
      // the same 404, after the same one read.
      const secrets = await readSecrets(this.store, id);
      if (secrets ? p.secret === undefined || !sameSecret(p.secret, p.size === undefined ? secrets.original : secrets.size) : p.secret !== undefined)
        return this.notFound(req, res);
      const verdict = await readVerdict(this.store, id);
      if (isTakenDown(verdict)) return this.takenDown(req, res, verdict);
      // A duplicate's files are the image it duplicates (its own original is a copy of that
      // one's), until that one is deleted: then it is an image of its own again.
      const of = verdict?.verdict === 'duplicate' && (await readVerdict(this.store, verdict.of))?.verdict !== 'deleted' ? verdict.of : id;
      // From here on, store paths: where the photo's objects are kept.
      if (!spec) return await this.original(req, res, p.secret ? originalPath(id) : path, of === id ? undefined : originalPath(of));
      return await this.size(req, res, imagePath(of, spec.name), of, spec, formatClass(req.headers.accept));
    } catch (err) {
      this.failed(req, res, path, err);
    }
  }

  /**
   * A ladder size of image `id` in the encoding a client of class `want` gets: stored (the
   * JPEG at `path`, an AVIF or WebP beside it), or made on the fly from its largest stored
   * size, else from its original, and then stored (`storeDerived`): each encoding of a
   * size is made once, on its first request (usually a warm push), not once per colo.
   */
  private async size(req: IncomingMessage, res: ServerResponse, path: string, id: string, spec: SizeSpec, want: FormatClass): Promise<void> {
    const format = servedFormat(want, this.formats);
    const key = format === 'jpeg' ? path : variantPath(id, spec.name, format);
    if (await this.serveStored(req, res, key, FORMAT_MEDIA_TYPES[format])) return;
    const from = await this.sourceFor(id, spec);
    if (!from) return this.notFound(req, res);
    let out: Buffer | 'overload';
    try {
      out = await this.once(cacheKey(path, format), async () => {
        const t0 = process.hrtime.bigint();
        const variant = format === 'jpeg' ? undefined : variantEncode(format, this.formats);
        const data = (await this.backend.resize(await from(), spec, this.o.encode, variant)).data;
        const took = Number(process.hrtime.bigint() - t0) / 1e9;
        if (format === 'jpeg') this.metrics.derive.labels(spec.name).observe(took);
        else this.metrics.variant.labels(format, spec.name).observe(took);
        // Created once: if another writer (the resize tier, another origin) stored this
        // encoding meanwhile, its bytes are the URL's, and they are what this answer sends.
        if (this.o.storeDerived && (await createUnlessTakenDown(this.store, id, key, data)) === 'exists') return this.store.get(key);
        return data;
      });
    } catch (err) {
      // Made from an original kept as JPEG XL whose reconstruction its digest refuses.
      if (err instanceof IntegrityError) return this.damaged(req, res, originalPath(id).replace(/\.jpg$/, '.jxl'), err);
      throw err;
    }
    if (out === 'overload') {
      if (format === 'jpeg' || !(await this.fallback(req, res, path))) this.overloaded(req, res);
      return;
    }
    // Taken down while it was made: not answered (the store kept nothing of it either).
    const now = await readVerdict(this.store, id);
    if (isTakenDown(now)) return this.takenDown(req, res, now);
    this.metrics.requests.labels(format === 'jpeg' ? 'derived' : 'variant').inc();
    this.sendImage(res, req, out, FORMAT_MEDIA_TYPES[format], Date.now());
  }

  /**
   * 451 for every path of a quarantined image, 410 for every path of a deleted one; both
   * `no-store`, so lifting a quarantine takes effect at once and no cache keeps the answer
   * in place of a purge.
   */
  private takenDown(req: IncomingMessage, res: ServerResponse, verdict: Verdict & { verdict: 'deleted' | 'quarantined' }): void {
    this.metrics.requests.labels(verdict.verdict).inc();
    if (verdict.verdict === 'deleted') this.send(res, req, 410, 'gone: this image was deleted\n', ERROR_HEADERS);
    else this.send(res, req, 451, 'unavailable: this image is quarantined\n', ERROR_HEADERS);
  }

  /**
   * An original as uploaded: the JPEG, or, if it is kept only as JPEG XL, the exact JPEG
   * reconstructed from it; served without its location metadata unless the photo's
   * policy (set at upload) keeps it (image/location.ts). Every original comes here, never
   * straight from the store: the origin front passes them all to this service.
   */
  private async original(req: IncomingMessage, res: ServerResponse, path: string, duplicateOf?: string): Promise<void> {
    try {
      const info = await this.store.head(path);
      let stored: Buffer | undefined;
      try {
        stored = info && (await this.store.get(path));
      } catch (err) {
        // Gone between the look and the read: its JPEG XL, or nothing.
        if (!(err instanceof ObjectNotFoundError)) throw err;
      }
      if (info && stored) {
        this.metrics.requests.labels('stored').inc();
        return this.sendOriginal(res, req, path, servedOriginal(stored, info.meta), info.modifiedMs);
      }
      if (duplicateOf) return await this.original(req, res, duplicateOf);
      const jxlPath = path.replace(/\.jpg$/, '.jxl');
      const jxlInfo = await this.store.head(jxlPath);
      if (!jxlInfo) return this.notFound(req, res);
      const jpeg = await this.once(path, () => reconstructChecked(this.store, jxlPath));
      if (jpeg === 'overload') return this.overloaded(req, res);
      const now = await readVerdict(this.store, (parseServedPath(path) as { id: string }).id);
      if (isTakenDown(now)) return this.takenDown(req, res, now);
      this.metrics.requests.labels('reconstructed').inc();
      this.sendImage(res, req, servedOriginal(jpeg, jxlInfo.meta), FORMAT_MEDIA_TYPES.jpeg, jxlInfo.modifiedMs);
    } catch (err) {
      if (err instanceof IntegrityError) return this.damaged(req, res, path.replace(/\.jpg$/, '.jxl'), err);
      // Deleted between the look and the read.
      if (err instanceof ObjectNotFoundError) return this.notFound(req, res);
      if (err instanceof MetadataError) {
        // Its location could not be taken out: never served as it is.
        this.metrics.requests.labels('error').inc();
        this.log.error({ path, err: err.message }, 'original whose metadata does not parse; not served');
        return this.send(res, req, 500, 'original not servable\n', ERROR_HEADERS);
      }
      this.failed(req, res, path, err);
    }
  }

  /** Serves the store file at `path` (of `mediaType`) if there is one; says whether it did. */
  private async serveStored(req: IncomingMessage, res: ServerResponse, path: string, mediaType: string): Promise<boolean> {
    // Its write time for Last-Modified, where the store keeps one.
    const info = await this.store.head(path);
    if (!info) return false;
    let stored: Buffer;
    try {
      stored = await this.store.get(path);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    }
    this.metrics.requests.labels('stored').inc();
    // By its bytes: where no AVIF or WebP of a size was smaller than its JPEG at the same score, that class's object is the JPEG.
    const encoding = storedEncoding(stored);
    this.sendImage(res, req, stored, encoding ? FORMAT_MEDIA_TYPES[encoding] : mediaType, info.modifiedMs);
    return true;
  }

  /**
   * An original as stored: its type by its bytes (a phone's HEIC is image/heic under the
   * same `_o.jpg` path), and a file name with the format's own extension for a browser
   * that saves it.
   */
  private sendOriginal(res: ServerResponse, req: IncomingMessage, path: string, body: Buffer, modifiedMs?: number): void {
    const format = originalFormat(body);
    const name = path.slice(path.lastIndexOf('/') + 1).replace(/\.jpg$/, `.${format === 'jpeg' ? 'jpg' : format}`);
    this.sendImage(res, req, body, ORIGINAL_MEDIA_TYPES[format], modifiedMs, format === 'jpeg' ? {} : { 'content-disposition': `inline; filename="${name}"` });
  }

  /**
   * An image answer: its ETag names its bytes (the same bytes have the same ETag in every
   * colo and from every driver), Last-Modified when the bytes were written where the store
   * keeps that (`dir` does; the volumes keep no time per needle) or made now. Its type is
   * the encoding sent, and it varies by `Accept`, so no cache that keys by the URL alone
   * (a browser's, a CDN's) keeps one client's encoding for another.
   */
  private sendImage(res: ServerResponse, req: IncomingMessage, body: Buffer, mediaType: string, modifiedMs?: number, extra: Record<string, string> = {}): void {
    this.send(res, req, 200, body, {
      'content-type': mediaType,
      ...extra,
      vary: 'Accept',
      etag: imageEtag(body),
      ...(modifiedMs !== undefined ? { 'last-modified': new Date(modifiedMs).toUTCString() } : {}),
    });
  }

  /**
   * `work` for `path`, run once however many requests want it at the same time, within
   * the bound on on-the-fly work; 'overload' when the bound is full.
   */
  private once(path: string, work: () => Promise<Buffer>): Promise<Buffer | 'overload'> {
    const running = this.inflight.get(path);
    if (running) {
      this.metrics.coalesced.inc();
      return running;
    }
    const p = (async (): Promise<Buffer | 'overload'> => {
      if (!(await this.acquire())) return 'overload';
      try {
        return await work();
      } finally {
        this.release();
      }
    })().finally(() => this.inflight.delete(path));
    this.inflight.set(path, p);
    return p;
  }

  /**
   * For a client of AVIF or WebP while on-the-fly work is full: the size's stored JPEG
   * (which that client takes too), cacheable for FALLBACK_MAX_AGE_S only, so the cache
   * asks again soon and then gets its own encoding. A burst of first views of new photos
   * (every push an encode) then degrades to JPEG bytes instead of 503s. Says whether it
   * served one; nothing to serve when the JPEG of the size is not stored either.
   */
  private async fallback(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const info = await this.store.head(path);
    const stored = info && (await this.store.get(path).catch(() => undefined));
    if (!stored) return false;
    this.metrics.requests.labels('fallback').inc();
    this.sendImage(res, req, stored, FORMAT_MEDIA_TYPES.jpeg, info.modifiedMs, { 'cache-control': `max-age=${FALLBACK_MAX_AGE_S}` });
    return true;
  }

  private overloaded(req: IncomingMessage, res: ServerResponse): void {
    this.metrics.requests.labels('overload').inc();
    this.send(res, req, 503, 'busy; retry shortly\n', { 'retry-after': '1', ...ERROR_HEADERS });
  }

  /** A reconstruction its digest refuses: never served, never cached, reported for repair. */
  private damaged(req: IncomingMessage, res: ServerResponse, jxlPath: string, err: IntegrityError): void {
    this.metrics.requests.labels('damaged').inc();
    this.metrics.integrity.labels(err.reason).inc();
    this.log.error(
      { path: jxlPath, reason: err.reason, err: err.message, repair: true },
      'original kept as JPEG XL failed its integrity check; not served, reported for repair',
    );
    if (!this.reported.has(jxlPath)) {
      // Bounded: a failing disk must not grow this set without end (a later report repeats a line, no harm).
      if (this.reported.size >= 10_000) this.reported.clear();
      this.reported.add(jxlPath);
      this.store
        .reportDamage({ path: jxlPath, reason: err.reason, by: 'origin', error: err.message })
        .catch((e: Error) => this.log.error({ err: e }, 'cannot write the damage report'));
    }
    if (!res.headersSent) this.send(res, req, 500, 'stored original failed its integrity check\n', ERROR_HEADERS);
  }

  private failed(req: IncomingMessage, res: ServerResponse, path: string, err: unknown): void {
    if (err instanceof StoreEscapeError) {
      this.log.warn({ path, err: err.message }, 'refused a link that leaves the store');
      return this.notFound(req, res);
    }
    if (err instanceof DamagedObjectError) {
      // The store counted it and put it on its repair list; here it is only never served.
      this.metrics.requests.labels('damaged').inc();
      this.log.error({ path: err.key, err: err.message, repair: true }, 'stored object failed its checksum; not served');
      if (!res.headersSent) this.send(res, req, 500, 'stored object failed its integrity check\n', ERROR_HEADERS);
      return;
    }
    this.metrics.requests.labels('error').inc();
    this.log.error({ err, path }, 'origin request failed');
    if (!res.headersSent) this.send(res, req, 500, 'internal error\n', ERROR_HEADERS);
  }

  private notFound(req: IncomingMessage, res: ServerResponse): void {
    this.metrics.requests.labels('not_found').inc();
    // Cacheable on purpose: the caches keep a 404 for their short notFoundValid (bounded negative caching).
    this.send(res, req, 404, 'not found\n', { 'content-type': 'text/plain' });
  }

  /**
   * What to make `want` from: the largest stored size at least as large (the resize tier
   * stores only `storedSizes`), else the original as uploaded, or reconstructed from its
   * JPEG XL and checked against its digest, else (for a variant) the stored JPEG of `want`
   * itself; undefined when there is none.
   */
  private async sourceFor(id: string, want: SizeSpec): Promise<(() => Promise<Buffer>) | undefined> {
    const candidates = [...this.ladder].filter((s) => s !== want && !s.square && s.size >= want.size).sort((a, b) => b.size - a.size);
    for (const s of candidates) {
      const path = imagePath(id, s.name);
      if (await this.store.head(path)) return () => this.store.get(path);
    }
    const original = originalPath(id);
    if (await this.store.head(original)) return () => this.store.get(original);
    const jxl = original.replace(/\.jpg$/, '.jxl');
    if (await this.store.head(jxl)) return () => reconstructChecked(this.store, jxl);
    // Neither (a store of sizes only): an AVIF or WebP of a stored size is made from its JPEG.
    const self = imagePath(id, want.name);
    if (await this.store.head(self)) return () => this.store.get(self);
    return undefined;
  }

  private acquire(): Promise<boolean> {
    if (this.running < this.o.maxConcurrent) {
      this.running++;
      return Promise.resolve(true);
    }
    if (this.waiting.length >= this.o.maxQueue) return Promise.resolve(false);
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.running++;
        resolve(true);
      }),
    );
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.();
  }
}
