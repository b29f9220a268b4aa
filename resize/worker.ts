/**
 * The resize tier's worker: consumes hearth.images.accepted (uploads the identity tier
 * let through: neither duplicates nor quarantined), makes every stored size of the
 * ladder (`storedSizes`; the origin makes the rest on demand) from the 2048 px source,
 * writes each atomically and emits hearth.images.resized.
 * Offsets are committed only after the files are durable and the events acknowledged
 * (at-least-once); a redelivery rewrites identical bytes and emits equivalent events.
 * A message that can never succeed (invalid, missing or corrupt source) goes to
 * hearth.images.dead and the partition moves on.
 */
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger, createMetrics, createRegistry, type Metrics } from '../common/index.js';
import {
  imagePath,
  originalPath,
  pathMismatch,
  CorruptImageError,
  isTakenDown,
  createUnlessTakenDown,
  readVerdict,
  MARKER_META,
  markerOf,
  perceptualRecompress,
  type ResizeBackend,
  CpuBackend,
  DEFAULT_LADDER,
  sourceSize,
  sweepDecodeTemps,
  type SizeSpec,
} from '../image/index.js';
import {
  TOPICS,
  acceptedValidator,
  type Resized,
  type Uploaded,
  KafkaWorker,
  PermanentFailure,
  outgoing,
  parseMessage,
  readForMessage,
  type Outgoing,
} from '../kafka/index.js';
import { openStore, type ObjectStore } from '../store/index.js';
import type { ResizeConfig } from './config.js';
import { RESIZE_METRICS } from './metrics.js';

const SOURCE_READ = { missing: 'missing_source', irregular: 'irregular_source', oversized: 'oversized_source' } as const;

export class ResizeWorker {
  readonly metrics: Metrics<typeof RESIZE_METRICS>;
  private readonly log: Logger;
  private readonly backend: ResizeBackend;
  private readonly ladder: readonly SizeSpec[];
  private readonly worker: KafkaWorker<typeof TOPICS.accepted>;
  private readonly registry = createRegistry();
  private readonly store: ObjectStore;
  private readonly perceptualSizes: ReadonlySet<string>;

  constructor(
    readonly config: ResizeConfig,
    opts: { logger?: Logger; backend?: ResizeBackend; ladder?: readonly SizeSpec[] } = {},
  ) {
    this.log = opts.logger ?? createLogger('resize', config.log.level);
    this.metrics = createMetrics(RESIZE_METRICS, this.registry);
    this.perceptualSizes = new Set(config.perceptual.sizes);
    this.store = openStore(config.store);
    this.backend = opts.backend ?? new CpuBackend(config.threadsPerJob);
    this.ladder = opts.ladder ?? DEFAULT_LADDER;
    // Each size's series from the start: a rate over a series born with its first count reads 0.
    for (const s of this.ladder) {
      this.metrics.duration.zero({ size: s.name });
      for (const outcome of ['created', 'exists', 'taken_down']) this.metrics.sizes.labels(s.name, outcome).inc(0);
      if (this.perceptualSizes.has(s.name)) this.metrics.perceptual.zero({ size: s.name });
    }
    const p = config.kafka.partitions;
    this.worker = new KafkaWorker({
      kafka: config.kafka,
      clientId: 'hearth-resize',
      registry: this.registry,
      topic: TOPICS.accepted,
      topics: { [TOPICS.accepted]: p, [TOPICS.resized]: p },
      jobs: config.jobs,
      log: this.log,
      handle: (message) => this.handle(parseMessage(message, acceptedValidator, (m) => pathMismatch(m.id, m.source, originalPath(m.id)))),
      deadLetters: this.metrics.failures,
      lagGauge: this.metrics.lag,
    });
  }

  async start(): Promise<AddressInfo> {
    const swept = await this.store.sweep();
    if (swept > 0) this.log.info({ swept }, 'removed temp files a crashed writer left in the store');
    await sweepDecodeTemps();
    const address = await this.worker.serve({ http: this.config.http, store: this.store, health: () => ({ backend: this.backend.name }) });
    this.log.info(
      {
        brokers: this.config.kafka.brokers,
        store: this.config.store,
        jobs: this.config.jobs,
        threadsPerJob: this.config.threadsPerJob,
        http: `${address.address}:${address.port}`,
      },
      'resize worker running',
    );
    return address;
  }

  private async handle(upload: Uploaded): Promise<Outgoing[]> {
    // Taken back between upload and now: nothing to make (its original is gone, which is no failure).
    if (isTakenDown(await readVerdict(this.store, upload.id))) {
      this.metrics.takenDown.inc();
      return [];
    }
    const events = await this.resizeAll(upload);
    this.metrics.images.inc();
    return events.map((e) => outgoing(TOPICS.resized, e.id, e));
  }

  /** Every stored size, from the 2048 px source made from the original (kept only if it is a stored size itself). */
  async resizeAll(upload: Uploaded): Promise<Resized[]> {
    const original = await readForMessage(upload.source, SOURCE_READ, () => this.store.get(upload.source, this.config.maxReadBytes));
    const src = sourceSize(this.ladder);
    const stored = new Set(this.config.storedSizes);
    const events: Resized[] = [];
    const encode = this.config.jpeg;
    try {
      const t0 = process.hrtime.bigint();
      const source = await this.backend.resize(original, src, encode);
      if (stored.has(src.name)) events.push(await this.write(upload.id, src, source.data, source.width, source.height, t0));
      for (const spec of this.ladder) {
        if (spec === src || !stored.has(spec.name)) continue;
        const t = process.hrtime.bigint();
        const out = await this.backend.resize(source.data, spec, encode);
        events.push(await this.write(upload.id, spec, out.data, out.width, out.height, t));
      }
    } catch (err) {
      if (err instanceof CorruptImageError) throw new PermanentFailure('corrupt_source', err.message);
      throw err;
    }
    return events;
  }

  /**
   * One size, through the perceptual pass first where configured, created once: it is
   * servable from the moment it is stored, so it is stored final and never replaced. The
   * origin may have made it on demand first (a viewer came before this tier): then its
   * bytes stand, and the event says what is stored.
   */
  private async write(id: string, spec: SizeSpec, made: Buffer, width: number, height: number, t0: bigint): Promise<Resized> {
    const path = imagePath(id, spec.name);
    let data = made;
    let meta: Record<string, string> | undefined;
    if (this.perceptualSizes.has(spec.name)) {
      const t = process.hrtime.bigint();
      const r = await perceptualRecompress(made, { ...this.config.perceptual, progressive: this.config.jpeg.progressive });
      data = r.data;
      meta = { [MARKER_META]: JSON.stringify(markerOf(made, r)) };
      this.metrics.perceptual.labels(spec.name).observe(Number(process.hrtime.bigint() - t) / 1e9);
      this.metrics.saved.inc(r.bytesBefore - r.bytesAfter);
      this.metrics.quality.labels(spec.name).observe(r.quality);
    }
    // A delete during the work wins: the size is removed again, and its event still goes out (the perceptual tier skips it).
    const outcome = await createUnlessTakenDown(this.store, id, path, data, meta);
    this.metrics.duration.labels(spec.name).observe(Number(process.hrtime.bigint() - t0) / 1e9);
    this.metrics.sizes.labels(spec.name, outcome).inc();
    const bytes = outcome === 'exists' ? ((await this.store.head(path))?.size ?? data.length) : data.length;
    return { id, size: spec.name, path, bytes, width, height };
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    await this.store.close();
  }
}
