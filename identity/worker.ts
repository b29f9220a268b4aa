/**
 * The identity tier: every upload passes here before it is resized. It consumes
 * hearth.images.uploaded and decides, for each:
 *
 * - duplicate: byte-identical to a stored image (fingerprint candidates, each confirmed
 *   byte for byte). Its original becomes a hard link to that image's, a verdict file
 *   tells the origin to serve its sizes from that image's, and a `duplicate` event goes
 *   to hearth.images.matched. Nothing is resized.
 * - quarantined: its PDQ hash is within the quarantine threshold of the blocklist. A
 *   verdict file makes the origin answer 451, the id goes to hearth.images.quarantined
 *   (which the warmer follows), and nothing is resized.
 * - accepted: recorded in the ledger, passed on to hearth.images.accepted (what the
 *   resize tier reads), with a `near_duplicate` event for every stored image within
 *   the near threshold.
 *
 * Why a topic in between rather than a check the resize tier makes: the resize tier
 * then cannot resize what this tier has not seen (if it is down, nothing is resized and
 * the lag says so), and it needs no knowledge of fingerprints, hashes or blocklists.
 *
 * Decisions are made one at a time (hashing runs concurrently, deciding does not), so
 * two copies of one photo arriving together are still found to be the same. One worker
 * per store: a lock file refuses a second. Verdict files and the ledger are durable
 * before the events are produced, and the offset is committed only after that, so a
 * redelivery reaches the same decision and produces the same events.
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { acquireRunLock, createLogger, createMetrics, createRegistry, writeAtomic, type Logger, type Metrics } from '../common/index.js';
import { readFile } from 'node:fs/promises';
import {
  DEFAULT_LADDER,
  ORIGINAL_PATH,
  imagePath,
  decodeOriginal,
  ORIGINAL_FORMATS,
  sweepDecodeTemps,
  originalPath,
  pathMismatch,
  quarantinePath,
  sizeKeys,
  readSecrets,
  readVerdict,
  verdictPath,
  writeVerdict,
} from '../image/index.js';
import { openStore, type ObjectStore } from '../store/index.js';
import {
  KafkaWorker,
  TOPICS,
  PermanentFailure,
  outgoing,
  parseMessage,
  readForMessage,
  takedownValidator,
  uploadedValidator,
  type Outgoing,
  type Takedown,
  type Uploaded,
} from '../kafka/index.js';
import { Blocklist } from './blocklist.js';
import type { IdentityConfig } from './config.js';
import { fingerprintOf } from './fingerprint.js';
import { GrowingHammingIndex } from './hamming-index.js';
import { CorruptLedgerError, LedgerWriter, encodeRecord, identityDir, ledgerFile, readLedger, type LedgerRecord } from './ledger.js';
import { IDENTITY_METRICS, IDENTITY_VERDICTS, MATCH_STEPS } from './metrics.js';
import { pdqOf, type PdqHash } from './pdq.js';

/** The tier's own files: `stateDir`, or a dot directory beside a directory store's objects (never a served path). */
/** The blocklist as last applied to the photos already accepted: what a change is told apart from, across restarts. */
const appliedFile = (store: string, stateDir?: string): string => join(identityDir(store, stateDir), 'blocklist.applied');
/** How often the blocklist is looked at for hashes added or removed, to apply them to the photos already accepted. */
const BACKWARDS_EVERY_MS = 1000;

const SOURCE_READ = { missing: 'missing_source', irregular: 'irregular_source', oversized: 'oversized_source' } as const;

export class IdentityWorker {
  readonly metrics: Metrics<typeof IDENTITY_METRICS>;
  private readonly log: Logger;
  private readonly registry = createRegistry();
  private readonly store: ObjectStore;
  private readonly worker: KafkaWorker<typeof TOPICS.uploaded>;
  private readonly blocklist: Blocklist;
  /** Accepted images by ledger position: ids, PDQ qualities, and the hashes (searchable). */
  private readonly ids: string[] = [];
  private readonly qualities: number[] = [];
  private readonly hashes = new GrowingHammingIndex();
  private readonly byFingerprint = new Map<bigint, number[]>();
  private readonly positionOf = new Map<string, number>();
  private ledger: LedgerWriter | undefined;
  private unlock: (() => Promise<void>) | undefined;
  /** Decisions one at a time: the tail of the chain. */
  private deciding: Promise<unknown> = Promise.resolve();
  /** The blocklist hashes (hex) applied backwards so far; undefined until read at start. */
  private applied: Set<string> | undefined;
  private backwardsTimer: NodeJS.Timeout | undefined;
  private syncing = false;

  constructor(
    readonly config: IdentityConfig,
    opts: { logger?: Logger } = {},
  ) {
    this.log = opts.logger ?? createLogger('identity', config.log.level);
    this.metrics = createMetrics(IDENTITY_METRICS, this.registry);
    this.store = openStore(config.store);
    // Every series from the start: a rate over a series born with its first count reads nothing.
    for (const v of IDENTITY_VERDICTS) this.metrics.uploads.labels(v).inc(0);
    for (const f of ORIGINAL_FORMATS) for (const g of ['false', 'true']) this.metrics.originals.labels(f, g).inc(0);
    for (const s of MATCH_STEPS) this.metrics.matchDuration.zero({ step: s });
    for (const a of ['quarantined', 'lifted']) this.metrics.backwards.labels(a).inc(0);
    this.blocklist = new Blocklist(config.blocklist, (err) => {
      this.metrics.blocklistReloadFailures.inc();
      this.log.error({ err: err.message, file: config.blocklist }, 'blocklist changed but cannot be used; the previous list stays in force');
    });
    const p = config.kafka.partitions;
    this.worker = new KafkaWorker({
      kafka: config.kafka,
      clientId: 'hearth-identity',
      registry: this.registry,
      topic: TOPICS.uploaded,
      topics: { [TOPICS.uploaded]: p, [TOPICS.accepted]: p, [TOPICS.matched]: p, [TOPICS.quarantined]: 1, [TOPICS.takedown]: p },
      jobs: config.jobs,
      log: this.log,
      handle: (message) => this.identify(parseMessage(message, uploadedValidator, (m) => pathMismatch(m.id, m.source, originalPath(m.id)))),
      deadLetters: this.metrics.failures,
      lagGauge: this.metrics.lag,
    });
  }

  async start(): Promise<AddressInfo> {
    this.unlock = await acquireRunLock(join(await this.ensureDir(), 'worker.lock'), `the identity tier on ${this.config.store}`);
    try {
      const swept = await this.store.sweep();
      if (swept > 0) this.log.info({ swept }, 'removed temp files a crashed writer left in the store');
      await sweepDecodeTemps();
      await this.blocklist.load();
      await this.loadLedger();
      this.ledger = await LedgerWriter.open(ledgerFile(this.config.store, this.config.stateDir));
    } catch (err) {
      await this.unlock();
      throw err;
    }
    const address = await this.worker.serve({
      http: this.config.http,
      store: this.store,
      refresh: () => {
        this.metrics.indexed.set(this.ids.length);
        this.metrics.blocklist.set(this.blocklist.size);
      },
      health: () => ({ indexed: this.ids.length, blocklist: this.blocklist.size }),
    });
    this.log.info(
      {
        brokers: this.config.kafka.brokers,
        store: this.config.store,
        indexed: this.ids.length,
        blocklist: this.blocklist.size,
        http: `${address.address}:${address.port}`,
      },
      'identity worker running',
    );
    this.backwardsTimer = setInterval(() => {
      if (this.syncing) return;
      this.syncing = true;
      const sync = this.deciding.then(() => this.applyBackwards());
      this.deciding = sync.catch(() => {});
      sync
        .catch((err: Error) => this.log.error({ err }, 'blocklist change not applied to the photos already accepted; trying again'))
        .finally(() => (this.syncing = false));
    }, BACKWARDS_EVERY_MS);
    this.backwardsTimer.unref();
    return address;
  }

  /**
   * The blocklist applies backwards: a hash added quarantines every photo already
   * accepted within the threshold, the way an upload would have been (verdict, original
   * out of the served paths, its sizes removed, the warmer told, every colo purged); a
   * hash removed lifts the quarantines it made (the original back; the origin makes the
   * sizes again when asked). Run between upload decisions, never beside one. What was
   * applied is kept in the tier's state, so a change made while the tier was down is
   * applied when it starts.
   */
  private async applyBackwards(): Promise<void> {
    const file = appliedFile(this.config.store, this.config.stateDir);
    this.applied ??= new Set((await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l)));
    await this.blocklist.refresh();
    const now = new Set(this.blocklist.listed);
    const added = [...now].filter((h) => !this.applied!.has(h));
    const removed = [...this.applied].filter((h) => !now.has(h));
    if (added.length === 0 && removed.length === 0) return;
    let quarantined = 0;
    let lifted = 0;
    for (const h of added) quarantined += await this.quarantineAccepted(h);
    for (const h of removed) lifted += await this.liftQuarantines(h);
    await writeAtomic(file, Buffer.from([...now].map((h) => `${h}\n`).join('')));
    this.applied = now;
    this.log.warn({ added: added.length, removed: removed.length, quarantined, lifted }, 'blocklist change applied to the photos already accepted');
  }

  /** Accepted photos within the threshold of `listed` (hex), usable hashes only, with their distance. */
  private matchesOf(listed: string): { id: string; distance: number }[] {
    return this.hashes
      .search(Buffer.from(listed, 'hex'), this.config.pdq.quarantineThreshold)
      .filter((m) => (this.qualities[m.index] as number) >= this.config.pdq.minQuality)
      .map((m) => ({ id: this.ids[m.index] as string, distance: m.distance }));
  }

  private async quarantineAccepted(listed: string): Promise<number> {
    let n = 0;
    for (const { id, distance } of this.matchesOf(listed)) {
      // Deleted, quarantined already, or a duplicate's verdict (or one that does not read): not an accepted photo now.
      if (await readVerdict(this.store, id).catch(() => true)) continue;
      await writeVerdict(this.store, id, { v: 1, verdict: 'quarantined', listed, distance, at: new Date().toISOString() });
      await this.moveToQuarantine({ id, source: originalPath(id) });
      await Promise.all(sizeKeys(id).map((k) => this.store.delete(k)));
      const secrets = await readSecrets(this.store, id);
      const takedown: Takedown = {
        id,
        action: 'quarantine',
        by: 'blocklist',
        ts: Date.now(),
        ...(secrets ? { secrets: { size: secrets.size, original: secrets.original } } : {}),
      };
      if (!takedownValidator.is(takedown)) throw new Error(takedownValidator.problems(takedown).join('; '));
      await this.worker.producer.sendBatch({
        topicMessages: [
          { topic: TOPICS.quarantined, messages: [{ key: id, value: JSON.stringify({ id, source: quarantinePath(id), listed, distance, ts: takedown.ts }) }] },
          { topic: TOPICS.takedown, messages: [{ key: id, value: JSON.stringify(takedown) }] },
        ],
      });
      this.metrics.backwards.labels('quarantined').inc();
      this.log.warn({ id, listed, distance }, 'accepted photo quarantined: a hash added to the blocklist matches it');
      n++;
    }
    return n;
  }

  private async liftQuarantines(listed: string): Promise<number> {
    let n = 0;
    for (const { id } of this.matchesOf(listed)) {
      const v = await readVerdict(this.store, id).catch(() => undefined);
      if (v?.verdict !== 'quarantined' || v.listed !== listed) continue;
      // Still within the threshold of another listed hash: quarantined for that one now.
      const other = await this.store.get(quarantinePath(id), this.config.maxReadBytes).then(
        async (data) => this.blocklist.match((await pdqOfOriginal(data)).hash, this.config.pdq.quarantineThreshold),
        () => undefined,
      );
      if (other) {
        await writeVerdict(this.store, id, { ...v, listed: other.listed, distance: other.distance });
        continue;
      }
      if (await this.store.head(quarantinePath(id))) {
        await this.store.copy(quarantinePath(id), originalPath(id));
        await this.store.delete(quarantinePath(id));
      }
      await this.store.delete(verdictPath(id));
      // A tombstone: the warmer's feed lets the photo be pushed again.
      await this.worker.producer.send({ topic: TOPICS.quarantined, messages: [{ key: id, value: null }] });
      this.metrics.backwards.labels('lifted').inc();
      this.log.warn({ id, listed }, 'quarantine lifted: its hash was removed from the blocklist');
      n++;
    }
    return n;
  }

  private async ensureDir(): Promise<string> {
    const dir = identityDir(this.config.store, this.config.stateDir);
    await writeAtomic(join(dir, 'README'), Buffer.from("The identity tier's ledger and lock (hearth identity worker). Not served.\n"));
    return dir;
  }

  /** The ledger into memory; missing or damaged, rebuilt from the store's originals first. */
  private async loadLedger(): Promise<void> {
    const file = ledgerFile(this.config.store, this.config.stateDir);
    let records: LedgerRecord[];
    try {
      const read = await readLedger(file, { cutTorn: true });
      if (read.torn > 0) this.log.warn({ file, bytes: read.torn }, 'ledger ended in a torn record (a crash mid-append); cut off');
      records = read.records;
      if (records.length === 0) records = await this.rebuild('no ledger yet');
    } catch (err) {
      if (!(err instanceof CorruptLedgerError)) throw err;
      this.log.error({ err: err.message }, 'ledger damaged; rebuilding it from the store');
      records = await this.rebuild(err.message);
    }
    for (const r of records) this.remember(r);
  }

  /** Fingerprint and PDQ of every original that has no verdict (those are the accepted ones), written as a new ledger. */
  private async rebuild(why: string): Promise<LedgerRecord[]> {
    const t0 = performance.now();
    const records: LedgerRecord[] = [];
    const original = new RegExp(ORIGINAL_PATH);
    for await (const { key: path } of this.store.list('/originals/')) {
      const id = original.exec(path)?.[1];
      if (id === undefined || (await this.store.head(verdictPath(id)))) continue;
      try {
        const data = await this.store.get(path, this.config.maxReadBytes);
        const pdq = await pdqOfOriginal(data);
        records.push({ id, fingerprint: fingerprintOf(data), size: data.length, pdq: pdq.hash, quality: pdq.quality });
      } catch (err) {
        this.log.warn({ path, err: (err as Error).message }, 'original left out of the rebuilt ledger');
      }
    }
    await writeAtomic(ledgerFile(this.config.store, this.config.stateDir), Buffer.concat(records.map(encodeRecord)));
    if (records.length > 0) this.log.info({ why, images: records.length, ms: Math.round(performance.now() - t0) }, 'ledger rebuilt from the store');
    return records;
  }

  private remember(r: LedgerRecord): void {
    if (this.positionOf.has(r.id)) return;
    const at = this.hashes.add(r.pdq);
    this.ids.push(r.id);
    this.qualities.push(r.quality);
    this.positionOf.set(r.id, at);
    const same = this.byFingerprint.get(r.fingerprint);
    if (same) same.push(at);
    else this.byFingerprint.set(r.fingerprint, [at]);
  }

  /** One upload's verdict and the messages it produces. */
  async identify(up: Uploaded): Promise<Outgoing[]> {
    await this.blocklist.refresh();
    // Decided before (a redelivery): the same events again, nothing redone.
    const earlier = await readVerdict(this.store, up.id).catch(() => undefined);
    if (earlier?.verdict === 'quarantined') {
      // A crash may have come between the verdict and the move: finish it.
      await this.moveToQuarantine(up);
      return [this.quarantinedEvent(up, earlier)];
    }
    const data = await readForMessage(up.source, SOURCE_READ, () => this.store.get(up.source, this.config.maxReadBytes));
    const pdq = await this.hash(up, data);
    // Deciding is serial: a chain, each link waiting for the previous one to settle.
    const decision = this.deciding.then(() => this.decide(up, data, pdq));
    this.deciding = decision.catch(() => {});
    return decision;
  }

  /** The upload's PDQ; a file that is no original Hearth takes (original.ts), or past the pixel bound, can never pass. */
  private async hash(up: Uploaded, data: Buffer): Promise<PdqHash> {
    const t0 = process.hrtime.bigint();
    try {
      const decoded = await decodeOriginal(data);
      this.metrics.originals.labels(decoded.format, String(decoded.gainMap)).inc();
      return await pdqOf(decoded.pixels);
    } catch (err) {
      throw new PermanentFailure('corrupt_source', `${up.source}: ${(err as Error).message}`);
    } finally {
      this.observe('pdq', t0);
    }
  }

  private async decide(up: Uploaded, data: Buffer, pdq: PdqHash): Promise<Outgoing[]> {
    let t0 = process.hrtime.bigint();
    const fingerprint = fingerprintOf(data);
    let same: string | undefined;
    let known = false;
    for (const at of this.byFingerprint.get(fingerprint) ?? []) {
      const id = this.ids[at] as string;
      if (id === up.id) {
        known = true; // a redelivery of an upload accepted before
        continue;
      }
      const stored = await this.store.get(originalPath(id), this.config.maxReadBytes).catch(() => undefined);
      if (stored?.equals(data)) {
        same = id;
        break;
      }
      this.log.info({ id: up.id, candidate: id }, 'fingerprint collision: same fingerprint, different bytes');
    }
    this.observe('fingerprint', t0);
    t0 = process.hrtime.bigint();
    const usable = pdq.quality >= this.config.pdq.minQuality;
    // A duplicate is checked against the list too: the list may have grown since its twin was accepted.
    const listed = usable ? this.blocklist.match(pdq.hash, this.config.pdq.quarantineThreshold) : undefined;
    const near = usable && !same && !listed ? this.near(up.id, pdq.hash) : [];
    this.observe('search', t0);
    if (!usable) this.metrics.lowQuality.inc();
    if (listed) return this.quarantine(up, listed);
    if (same) return this.duplicate(up, same, data.length);
    if (!known) {
      const record = { id: up.id, fingerprint, size: data.length, pdq: pdq.hash, quality: pdq.quality };
      await (this.ledger as LedgerWriter).append(record);
      this.remember(record);
    }
    this.metrics.uploads.labels('accepted').inc();
    this.metrics.nearDuplicates.inc(near.length);
    const ts = Date.now();
    return [
      outgoing(TOPICS.accepted, up.id, { id: up.id, source: up.source, ts: up.ts ?? ts }),
      ...near.map((m) => outgoing(TOPICS.matched, up.id, { id: up.id, kind: 'near_duplicate' as const, of: m.of, distance: m.distance, bytesSaved: 0, ts })),
    ];
  }

  /** Stored images within the near threshold (not the upload itself), nearest first. */
  private near(id: string, hash: Buffer): { of: string; distance: number }[] {
    return this.hashes
      .search(hash, this.config.pdq.nearThreshold)
      .filter((m) => this.ids[m.index] !== id && (this.qualities[m.index] as number) >= this.config.pdq.minQuality)
      .slice(0, this.config.pdq.maxNearMatches)
      .map((m) => ({ of: this.ids[m.index] as string, distance: m.distance }));
  }

  /** The verdict first (the origin answers 451 from then on), then the original moved out of the served paths. */
  private async quarantine(up: Uploaded, listed: { listed: string; distance: number }): Promise<Outgoing[]> {
    await writeVerdict(this.store, up.id, { v: 1, verdict: 'quarantined', listed: listed.listed, distance: listed.distance, at: new Date().toISOString() });
    await this.moveToQuarantine(up);
    this.metrics.uploads.labels('quarantined').inc();
    this.log.warn(
      { id: up.id, source: up.source, kept: quarantinePath(up.id), listed: listed.listed, distance: listed.distance },
      'upload quarantined: it matches the blocklist',
    );
    return [this.quarantinedEvent(up, listed)];
  }

  /** The original copied to the quarantine path, then removed from the served one; nothing to do when that is done already. */
  private async moveToQuarantine(up: Uploaded): Promise<void> {
    if (!(await this.store.head(up.source))) return;
    await this.store.copy(up.source, quarantinePath(up.id));
    await this.store.delete(up.source);
  }

  private quarantinedEvent(up: Uploaded, listed: { listed: string; distance: number }): Outgoing {
    return outgoing(TOPICS.quarantined, up.id, { id: up.id, source: quarantinePath(up.id), listed: listed.listed, distance: listed.distance, ts: Date.now() });
  }

  /**
   * The verdict first (the origin then serves `of`'s files), then the original replaced by
   * a copy of `of`'s, which a driver may share rather than store twice (`dir`: a hard link).
   * Saved bytes are counted once: a redelivery finds its own verdict.
   */
  private async duplicate(up: Uploaded, of: string, bytes: number): Promise<Outgoing[]> {
    const earlier = await readVerdict(this.store, up.id).catch(() => undefined);
    const again = earlier?.verdict === 'duplicate' && earlier.of === of;
    if (!again) await writeVerdict(this.store, up.id, { v: 1, verdict: 'duplicate', of, at: new Date().toISOString() });
    await this.store.copy(originalPath(of), up.source);
    let saved = 0;
    if (!again) {
      saved = bytes + (await this.storedSizesBytes(of));
      this.metrics.bytesSaved.inc(saved);
    }
    this.metrics.uploads.labels('duplicate').inc();
    this.log.info({ id: up.id, of, bytesSaved: saved }, 'duplicate upload: served from the stored image');
    return [outgoing(TOPICS.matched, up.id, { id: up.id, kind: 'duplicate' as const, of, distance: 0, bytesSaved: saved, ts: Date.now() })];
  }

  /** Bytes of the sizes of `id` stored now: what a duplicate would otherwise have had made and stored again. */
  private async storedSizesBytes(id: string): Promise<number> {
    const sizes = await Promise.all(DEFAULT_LADDER.map(async (s) => (await this.store.head(imagePath(id, s.name)))?.size ?? 0));
    return sizes.reduce((a, b) => a + b, 0);
  }

  private observe(step: (typeof MATCH_STEPS)[number], t0: bigint): void {
    this.metrics.matchDuration.labels(step).observe(Number(process.hrtime.bigint() - t0) / 1e9);
  }

  async stop(): Promise<void> {
    clearInterval(this.backwardsTimer);
    await this.worker.stop();
    await this.deciding;
    await this.ledger?.close();
    await this.unlock?.();
    await this.store.close();
  }
}

/** PDQ of an original as a viewer sees its pixels (a HEIC decoded by libheif first). */
const pdqOfOriginal = async (data: Buffer): Promise<PdqHash> => pdqOf((await decodeOriginal(data)).pixels);
