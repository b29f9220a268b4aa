/**
 * The origin service: any image path of the store. A stored file is served as is; a
 * ladder size that is not stored is made on the fly from the largest stored size of
 * the same image (and stored, if configured). Paths outside the ladder or the layout
 * are 404 without any work. On-the-fly work is bounded: past `maxConcurrent` running
 * and `maxQueue` waiting, requests get 503 with Retry-After instead of piling up.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createLogger, type Logger } from '../common/logger.js';
import { createMetrics, createRegistry, type MetricDef, type Metrics } from '../common/metrics.js';
import { closeServer, listen } from '../common/http-util.js';
import { imagePath, storeFile, writeAtomic } from '../common/store.js';
import type { EncodeOptions, ResizeBackend } from '../resize/backend.js';
import { CpuBackend } from '../resize/cpu-backend.js';
import { DEFAULT_LADDER, type SizeSpec } from '../resize/ladder.js';
import { reconstruct } from '../compress/lossless.js';

export const ORIGIN_METRICS = {
  requests: {
    type: 'counter',
    name: 'hearth_origin_requests_total',
    help: 'Requests by result: stored, derived (a size made on the fly), reconstructed (an original kept as JPEG XL), not_found, overload (503), error.',
    labelNames: ['result'],
  },
  derive: {
    type: 'histogram',
    name: 'hearth_origin_derive_duration_seconds',
    help: 'Time to make one size on the fly, by size.',
    labelNames: ['size'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  },
  inFlight: {
    type: 'gauge',
    name: 'hearth_origin_derives_in_flight',
    help: 'On-the-fly resizes running now.',
  },
} as const satisfies Record<string, MetricDef>;

export interface OriginOptions {
  store: string;
  host: string;
  port: number;
  ladder?: readonly SizeSpec[];
  /** Write derived sizes into the store, so the next request is a plain file. */
  storeDerived: boolean;
  maxConcurrent: number;
  maxQueue: number;
  encode: EncodeOptions;
  backend?: ResizeBackend;
  logger?: Logger;
}

const LAYOUT = /^\/photos\/([0-9]+)\/([0-9]{1,19})_([a-z]{1,3})\.jpg$/;
const ORIGINAL = /^\/originals\/(?:[0-9]+\/)?([0-9]{1,19})\.jpg$/;

export class OriginServer {
  readonly registry: Registry = createRegistry();
  readonly metrics: Metrics<typeof ORIGIN_METRICS>;
  private readonly ladder: readonly SizeSpec[];
  private readonly backend: ResizeBackend;
  private readonly log: Logger;
  private server: Server | undefined;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly o: OriginOptions) {
    this.ladder = o.ladder ?? DEFAULT_LADDER;
    this.backend = o.backend ?? new CpuBackend(1);
    this.log = o.logger ?? createLogger('origin');
    this.metrics = createMetrics(ORIGIN_METRICS, this.registry);
  }

  async start(): Promise<AddressInfo> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await listen(this.server, this.o.port, this.o.host);
    const a = this.server.address() as AddressInfo;
    this.log.info({ http: `${a.address}:${a.port}`, store: this.o.store, maxConcurrent: this.o.maxConcurrent }, 'origin listening');
    return a;
  }

  async stop(): Promise<void> {
    if (this.server) await closeServer(this.server);
  }

  private send(res: ServerResponse, req: IncomingMessage, status: number, body: Buffer | string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path === '/metrics') {
      this.metrics.inFlight.set(this.running);
      this.send(res, req, 200, await this.registry.metrics(), { 'content-type': this.registry.contentType });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, req, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    if (ORIGINAL.test(path)) return this.original(req, res, path);
    const m = LAYOUT.exec(path);
    const spec = m ? this.ladder.find((s) => s.name === m[3]) : undefined;
    const id = m?.[2] as string;
    // Outside the layout, outside the ladder, or a directory that does not match the id: no work.
    if (!m || !spec || imagePath(id, spec.name) !== path) return this.notFound(req, res);
    try {
      if (await this.serveStored(req, res, path)) return;
      const from = await this.largestStored(id, spec);
      if (!from) return this.notFound(req, res);
      const out = await this.bounded(req, res, async () => {
        const t0 = process.hrtime.bigint();
        const data = (await this.backend.resize(await readFile(from), spec, this.o.encode)).data;
        this.metrics.derive.labels(spec.name).observe(Number(process.hrtime.bigint() - t0) / 1e9);
        return data;
      });
      if (!out) return;
      if (this.o.storeDerived) await writeAtomic(storeFile(this.o.store, path), out);
      this.metrics.requests.labels('derived').inc();
      this.send(res, req, 200, out, { 'content-type': 'image/jpeg' });
    } catch (err) {
      this.failed(req, res, path, err);
    }
  }

  /** An original as uploaded: the JPEG, or, if it is kept only as JPEG XL, the exact JPEG reconstructed from it. */
  private async original(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      if (await this.serveStored(req, res, path)) return;
      const jxl = storeFile(this.o.store, path.replace(/\.jpg$/, '.jxl'));
      if (!(await stat(jxl).then((st) => st.isFile(), () => false))) return this.notFound(req, res);
      const jpeg = await this.bounded(req, res, () => reconstruct(jxl));
      if (!jpeg) return;
      this.metrics.requests.labels('reconstructed').inc();
      this.send(res, req, 200, jpeg, { 'content-type': 'image/jpeg' });
    } catch (err) {
      this.failed(req, res, path, err);
    }
  }

  /** Serves the store file at `path` if there is one; says whether it did. */
  private async serveStored(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const stored = await readFile(storeFile(this.o.store, path)).catch(() => undefined);
    if (!stored) return false;
    this.metrics.requests.labels('stored').inc();
    this.send(res, req, 200, stored, { 'content-type': 'image/jpeg' });
    return true;
  }

  /** Runs `work` within the bound on on-the-fly work, or answers 503 and gives undefined. */
  private async bounded<T>(req: IncomingMessage, res: ServerResponse, work: () => Promise<T>): Promise<T | undefined> {
    if (!(await this.acquire())) {
      this.metrics.requests.labels('overload').inc();
      this.send(res, req, 503, 'busy; retry shortly\n', { 'retry-after': '1', 'content-type': 'text/plain' });
      return undefined;
    }
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private failed(req: IncomingMessage, res: ServerResponse, path: string, err: unknown): void {
    this.metrics.requests.labels('error').inc();
    this.log.error({ err, path }, 'origin request failed');
    if (!res.headersSent) this.send(res, req, 500, 'internal error\n', { 'content-type': 'text/plain' });
  }

  private notFound(req: IncomingMessage, res: ServerResponse): void {
    this.metrics.requests.labels('not_found').inc();
    this.send(res, req, 404, 'not found\n', { 'content-type': 'text/plain' });
  }

  /** The largest stored size at least as big as the one wanted (never upscale), non-square first. */
  private async largestStored(id: string, want: SizeSpec): Promise<string | undefined> {
    const candidates = [...this.ladder].filter((s) => s !== want && !s.square && s.size >= want.size).sort((a, b) => b.size - a.size);
    for (const s of candidates) {
      const file = storeFile(this.o.store, imagePath(id, s.name));
      if (await stat(file).then((st) => st.isFile(), () => false)) return file;
    }
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
