/**
 * The perceptual half of the compression tier: consumes hearth.images.resized, replaces
 * each resize atomically with the lowest-quality JPEG that keeps SSIM at the target
 * (or keeps it, if that is not smaller), and emits hearth.images.compressed.
 *
 * The resize tier now runs the same pass before it stores a size (so a size's bytes never
 * change under its URL): its sizes arrive marked, and are `already`. What this worker
 * still replaces are sizes stored without the pass (stores from before); each such
 * replacement is announced as a `refresh` on hearth.images.takedown, and every colo's
 * purger drops the old bytes.
 *
 * Generation loss is a bug: a marker in the resize's own metadata (`pq`, written with the
 * output in one put) records the input and output hashes, so a redelivered event for a
 * file that is already the output is recognised and not recompressed. The marker names
 * the bytes it belongs to (`outputSha`), so one that does not describe the bytes beside it
 * (the `dir` driver writes metadata just before the object: a crash between them) is no
 * marker, and the input is compressed again, to the same bytes. Stores written before
 * markers moved into metadata keep theirs in a sidecar object (`<path>.hearth-pq.json`),
 * still read, never written.
 *
 * One name, `perceptual`: the daemon (`hearth compress perceptual`), the topology's member,
 * the stack's and Prometheus's job. Two things keep the compression tier's name on purpose:
 * the consumer group `hearth-compress` (a new group would read every resize ever made
 * again) and the `hearth_compress_*` metrics that dashboards and alerts query.
 */
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger, createMetrics, createRegistry, type Metrics } from '../common/index.js';
import {
  MARKER_META,
  imagePath,
  isTakenDown,
  markerOf,
  markerValidator,
  pathMismatch,
  perceptualRecompress,
  putUnlessTakenDown,
  readVerdict,
  sha256,
  type Marker,
} from '../image/index.js';
import { openStore, type ObjectStore } from '../store/index.js';
import {
  TOPICS,
  resizedValidator,
  type Resized,
  type Compressed,
  KafkaWorker,
  PermanentFailure,
  outgoing,
  parseMessage,
  readForMessage,
} from '../kafka/index.js';
import type { CompressConfig } from './config.js';
import { COMPRESS_METRICS } from './metrics.js';

const FILE_READ = { missing: 'missing_file', irregular: 'irregular_file', oversized: 'oversized_file' } as const;
/** A legacy sidecar marker is a line of JSON; anything larger is not one. */
const MAX_MARKER_BYTES = 64 * 1024;

export class PerceptualWorker {
  readonly metrics: Metrics<typeof COMPRESS_METRICS>;
  private readonly registry = createRegistry();
  private readonly log: Logger;
  private readonly worker: KafkaWorker<typeof TOPICS.resized>;
  private readonly store: ObjectStore;

  constructor(
    readonly config: CompressConfig,
    opts: { logger?: Logger } = {},
  ) {
    this.log = opts.logger ?? createLogger('perceptual', config.log.level);
    this.metrics = createMetrics(COMPRESS_METRICS, this.registry);
    this.store = openStore(config.store);
    for (const size of config.perceptual.sizes) this.metrics.quality.zero({ size });
    const p = config.kafka.partitions;
    this.worker = new KafkaWorker({
      kafka: config.kafka,
      clientId: 'hearth-compress',
      registry: this.registry,
      topic: TOPICS.resized,
      topics: { [TOPICS.resized]: p, [TOPICS.compressed]: p, [TOPICS.takedown]: p },
      jobs: config.jobs,
      log: this.log,
      handle: async (message) => {
        const { event, replaced } = await this.compressOne(parseMessage(message, resizedValidator, (m) => pathMismatch(m.id, m.path, imagePath(m.id, m.size))));
        if (!event) return [];
        // Bytes replaced under a URL that may have been served (a size stored before the
        // resize tier ran the pass itself): every colo fetches it again.
        const refresh = replaced ? [outgoing(TOPICS.takedown, event.id, { id: event.id, action: 'refresh' as const, by: 'perceptual', ts: Date.now() })] : [];
        return [outgoing(TOPICS.compressed, event.id, event), ...refresh];
      },
      deadLetters: this.metrics.failures,
    });
  }

  async start(): Promise<AddressInfo> {
    const swept = await this.store.sweep();
    if (swept > 0) this.log.info({ swept }, 'removed temp files a crashed writer left in the store');
    return this.worker.serve({ http: this.config.http, store: this.store });
  }

  /** Compresses one resize in place (idempotently) and says what it did; undefined for a size it is not to touch. */
  async compress(e: Resized): Promise<Compressed | undefined> {
    return (await this.compressOne(e)).event;
  }

  /**
   * What `compress` does, and whether it replaced the stored bytes. A size the resize
   * tier stored carries its marker already (it ran the pass before storing): `already`,
   * nothing replaced. Only sizes stored without the pass (stores from before) are.
   */
  private async compressOne(e: Resized): Promise<{ event?: Compressed; replaced: boolean }> {
    if (!this.config.perceptual.sizes.includes(e.size)) {
      this.metrics.images.labels('skipped').inc();
      return { replaced: false };
    }
    // Taken back since it was resized: nothing to compress (and its size is gone, which is no failure).
    if (isTakenDown(await readVerdict(this.store, e.id))) {
      this.metrics.images.labels('taken_down').inc();
      return { replaced: false };
    }
    const t0 = process.hrtime.bigint();
    const input = await readForMessage(e.path, FILE_READ, () => this.store.get(e.path, this.config.maxReadBytes));
    const inputSha = sha256(input);
    const marker = await this.marker(e.path);
    const event = (m: Marker): Compressed => ({
      id: e.id,
      size: e.size,
      path: e.path,
      bytesBefore: m.bytesBefore,
      bytesAfter: m.bytesAfter,
      quality: m.quality,
      score: m.score,
    });
    if (markerValidator.is(marker) && marker.outputSha === inputSha) {
      this.metrics.images.labels('already').inc();
      return { event: event(marker), replaced: false };
    }
    let r;
    try {
      r = await perceptualRecompress(input, { ...this.config.perceptual, progressive: true });
    } catch (err) {
      throw new PermanentFailure('corrupt_file', `${e.path}: ${(err as Error).message}`);
    }
    const m: Marker = markerOf(input, r);
    // The output and its marker in one put (the input itself when no quality is smaller: then only the marker is new).
    if (!(await putUnlessTakenDown(this.store, e.id, e.path, r.changed ? r.data : input, { [MARKER_META]: JSON.stringify(m) }))) {
      this.metrics.images.labels('taken_down').inc();
      return { replaced: false };
    }
    this.metrics.images.labels(r.changed ? 'compressed' : 'kept').inc();
    this.metrics.saved.inc(r.bytesBefore - r.bytesAfter);
    this.metrics.quality.labels(e.size).observe(r.quality);
    this.metrics.duration.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    return { event: event(m), replaced: r.changed };
  }

  /** The marker of the resize at `path`: its metadata's, else a legacy sidecar's; undefined when neither reads and parses (then it is compressed again, to the same bytes). */
  private async marker(path: string): Promise<unknown> {
    const parse = (text: string): unknown => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined;
      }
    };
    const meta = (await this.store.head(path))?.meta[MARKER_META];
    if (meta !== undefined) return parse(meta);
    return this.store.get(`${path}.hearth-pq.json`, MAX_MARKER_BYTES).then(
      (t) => parse(t.toString('utf8')),
      () => undefined,
    );
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    await this.store.close();
  }
}
