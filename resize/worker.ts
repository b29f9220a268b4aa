/**
 * The resize tier's worker: consumes hearth.images.accepted (uploads the identity tier
 * let through: neither duplicates nor quarantined), makes every stored size of the
 * ladder (`storedSizes`; the origin makes the rest on demand) from the 2048 px source,
 * writes each atomically and emits hearth.images.resized. Beside each of `variants.sizes`
 * it stores the size's AVIF and WebP, each at its own image's quality (docs/formats.md).
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
  type ResizeOutput,
  type PreparedSize,
  type RawPixels,
  type VariantFormat,
  CpuBackend,
  perceptualVariant,
  ssimAgainst,
  variantPath,
  VARIANT_META,
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

/** A stored size's variants still to make: from its resize, against its stored JPEG (reference and target computed once, for both formats). */
interface Variants {
  spec: SizeSpec;
  prepared: PreparedSize;
  jpeg: Buffer;
  reference?: RawPixels;
  target?: number;
}

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
  private readonly variantSizes: ReadonlySet<string>;

  constructor(
    readonly config: ResizeConfig,
    opts: { logger?: Logger; backend?: ResizeBackend; ladder?: readonly SizeSpec[] } = {},
  ) {
    this.log = opts.logger ?? createLogger('resize', config.log.level);
    this.metrics = createMetrics(RESIZE_METRICS, this.registry);
    this.perceptualSizes = new Set(config.perceptual.sizes);
    this.variantSizes = new Set(config.variants.formats.length > 0 ? config.variants.sizes.filter((s) => config.storedSizes.includes(s)) : []);
    this.store = openStore(config.store);
    this.backend = opts.backend ?? new CpuBackend(config.threadsPerJob);
    this.ladder = opts.ladder ?? DEFAULT_LADDER;
    // Each size's series from the start: a rate over a series born with its first count reads 0.
    for (const s of this.ladder) {
      this.metrics.duration.zero({ size: s.name });
      for (const outcome of ['created', 'exists', 'taken_down']) this.metrics.sizes.labels(s.name, outcome).inc(0);
      if (this.perceptualSizes.has(s.name)) this.metrics.perceptual.zero({ size: s.name });
      if (this.variantSizes.has(s.name))
        for (const format of config.variants.formats) {
          this.metrics.variantSeconds.zero({ format, size: s.name });
          for (const result of ['created', 'jpeg', 'exists', 'taken_down']) this.metrics.variants.labels(format, s.name, result).inc(0);
        }
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

  /**
   * Every stored size, from the 2048 px source made from the original (kept only if it is
   * a stored size itself); then, where configured, each size's variants, once every JPEG
   * is stored (servable), smallest first, so that each search starts near the quality the
   * next smaller size took.
   */
  async resizeAll(upload: Uploaded): Promise<Resized[]> {
    const original = await readForMessage(upload.source, SOURCE_READ, () => this.store.get(upload.source, this.config.maxReadBytes));
    const src = sourceSize(this.ladder);
    const stored = new Set(this.config.storedSizes);
    const events: Resized[] = [];
    const variants: Variants[] = [];
    const add = (r: { event: Resized; variants?: Variants }) => {
      events.push(r.event);
      if (r.variants) variants.push(r.variants);
    };
    try {
      const t0 = process.hrtime.bigint();
      const source = await this.make(src, original);
      if (stored.has(src.name)) add(await this.write(upload.id, src, source, t0));
      for (const spec of this.ladder) {
        if (spec === src || !stored.has(spec.name)) continue;
        const t = process.hrtime.bigint();
        add(await this.write(upload.id, spec, await this.make(spec, source.data), t));
      }
    } catch (err) {
      if (err instanceof CorruptImageError) throw new PermanentFailure('corrupt_source', err.message);
      throw err;
    }
    variants.sort((a, b) => a.spec.size - b.spec.size);
    for (const format of this.config.variants.formats) {
      let near: number | undefined;
      for (const v of variants) {
        const r = await this.storeVariant(upload.id, v, format, near);
        if (r === 'taken_down') return events;
        near = r ?? near;
      }
    }
    return events;
  }

  /** One size's JPEG from `from`; for a size that gets variants, made from the resize they are made from too, which comes with it. */
  private async make(spec: SizeSpec, from: Buffer): Promise<ResizeOutput & { prepared?: PreparedSize }> {
    if (!this.variantSizes.has(spec.name)) return this.backend.resize(from, spec, this.config.jpeg);
    const prepared = await this.backend.prepare(from, spec);
    return { data: await prepared.encode({ format: 'jpeg', jpeg: this.config.jpeg }), width: prepared.width, height: prepared.height, prepared };
  }

  /**
   * One size, through the perceptual pass first where configured, created once: it is
   * servable from the moment it is stored, so it is stored final and never replaced. The
   * origin may have made it on demand first (a viewer came before this tier): then its
   * bytes stand, and the event says what is stored. With what its variants are made from.
   */
  private async write(
    id: string,
    spec: SizeSpec,
    made: ResizeOutput & { prepared?: PreparedSize },
    t0: bigint,
  ): Promise<{ event: Resized; variants?: Variants }> {
    const path = imagePath(id, spec.name);
    let data = made.data;
    let meta: Record<string, string> | undefined;
    if (this.perceptualSizes.has(spec.name)) {
      const t = process.hrtime.bigint();
      const r = await perceptualRecompress(made.data, { ...this.config.perceptual, progressive: this.config.jpeg.progressive });
      data = r.data;
      meta = { [MARKER_META]: JSON.stringify(markerOf(made.data, r)) };
      this.metrics.perceptual.labels(spec.name).observe(Number(process.hrtime.bigint() - t) / 1e9);
      this.metrics.saved.inc(r.bytesBefore - r.bytesAfter);
      this.metrics.quality.labels(spec.name).observe(r.quality);
    }
    // A delete during the work wins: the size is removed again, and its event still goes out (the perceptual tier skips it).
    const outcome = await createUnlessTakenDown(this.store, id, path, data, meta);
    this.metrics.duration.labels(spec.name).observe(Number(process.hrtime.bigint() - t0) / 1e9);
    this.metrics.sizes.labels(spec.name, outcome).inc();
    const prepared = outcome === 'taken_down' ? undefined : made.prepared;
    // What is stored: read back whole only when its variants are scored against it.
    const jpeg = outcome !== 'exists' ? data : prepared ? await this.store.get(path) : undefined;
    const bytes = jpeg?.length ?? (await this.store.head(path))?.size ?? data.length;
    const event = { id, size: spec.name, path, bytes, width: made.width, height: made.height };
    return { event, variants: prepared && jpeg ? { spec, prepared, jpeg } : undefined };
  }

  /**
   * A size's AVIF or WebP at the lowest quality that scores as the size's stored JPEG does
   * against the uncompressed resize: the encodings of a size look alike, and each is as
   * small as that allows. Where none is smaller than the JPEG at that score, the JPEG's
   * own bytes are that class's (served as JPEG). Created once, as the JPEG is: one the
   * origin made first for a viewer (at its one quality) stands. The quality chosen, for
   * the next size's search; `taken_down` when the photo was taken back meanwhile.
   */
  private async storeVariant(id: string, v: Variants, format: VariantFormat, near?: number): Promise<number | 'taken_down' | undefined> {
    const { spec, prepared, jpeg } = v;
    const path = variantPath(id, spec.name, format);
    if (await this.store.head(path)) {
      this.metrics.variants.labels(format, spec.name, 'exists').inc();
      return undefined;
    }
    const t = process.hrtime.bigint();
    v.reference ??= await prepared.reference();
    v.target ??= await ssimAgainst(v.reference, jpeg);
    const found = await perceptualVariant(prepared, v.reference, format, this.config.variants[format], v.target, near);
    const kept = found && found.data.length < jpeg.length ? found.data : jpeg;
    const meta = { [VARIANT_META]: JSON.stringify({ quality: found?.quality ?? null, score: found?.score ?? null, target: v.target, jpegBytes: jpeg.length }) };
    const outcome = await createUnlessTakenDown(this.store, id, path, kept, meta);
    this.metrics.variantSeconds.labels(format, spec.name).observe(Number(process.hrtime.bigint() - t) / 1e9);
    this.metrics.variants.labels(format, spec.name, outcome === 'created' ? (kept === jpeg ? 'jpeg' : 'created') : outcome).inc();
    if (outcome === 'taken_down') return outcome;
    if (outcome === 'created') {
      if (found) this.metrics.variantQuality.labels(format, spec.name).observe(found.quality);
      this.metrics.variantBytes.labels(format).inc(kept.length);
      this.metrics.variantJpegBytes.labels(format).inc(jpeg.length);
    }
    return found?.quality;
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    await this.store.close();
  }
}
