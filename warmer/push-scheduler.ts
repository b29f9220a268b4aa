/**
 * Bounded queue and bounded concurrency for pushes, fair across colos.
 *
 * Each colo has its own FIFO lane, its own in-flight cap and a circuit breaker, and
 * dispatch goes round-robin over the lanes. A dead or slow colo can then hold at most
 * its own cap of slots, its queued pushes go stale and are shed, and once the breaker
 * opens its new pushes are refused at once (`colo_down`) instead of waiting on timeouts.
 */
import type { Colo } from './colo-router.js';
import { Fifo } from './fifo.js';
import type { FormatClass } from '@hearth/api-hook';

export interface PushJob {
  readonly colo: Colo;
  readonly path: string;
  /** The encoding pushed: the viewer's format class, as the hint said. */
  readonly format: FormatClass;
  /** Warmer-clock epoch ms after which the push is pointless: the hint's ts + `push.deadlineMs`. */
  readonly deadline: number;
}

export interface PushResult {
  /** The push warmed the cache: a 2xx answer. */
  readonly ok: boolean;
  /** Counts against the colo's breaker: a network error, timeout or 5xx. */
  readonly failure: boolean;
}

export type SchedulerDropReason = 'stale' | 'overload' | 'colo_down' | 'shutdown' | 'deleted' | 'quarantined';

export interface SchedulerOptions {
  readonly colos: readonly Colo[];
  readonly concurrency: number;
  readonly perColoConcurrency: number;
  readonly queueMax: number;
  readonly breakerFailures: number;
  readonly breakerCooldownMs: number;
  readonly now: () => number;
  /** Performs the push and calls `done` exactly once, never before it returns; must not throw. */
  readonly run: (job: PushJob, done: (result: PushResult) => void) => void;
  readonly onSettled: (job: PushJob, result: PushResult) => void;
  /** Why a queued push must not go out after all (its photo was taken down while it waited); undefined: it may. */
  readonly blocked?: (job: PushJob) => 'deleted' | 'quarantined' | undefined;
  readonly onDropped: (job: PushJob, reason: SchedulerDropReason) => void;
  readonly onBreaker?: (colo: Colo, open: boolean) => void;
}

class Lane {
  readonly queue = new Fifo<PushJob>();
  inFlight = 0;
  failures = 0;
  /** Epoch ms until which the breaker is open; 0 when closed. */
  openUntil = 0;
  /** After a cooldown, one probe at a time until a push succeeds. */
  halfOpen = false;
  /** From the breaker opening until a push succeeds: transitions are reported once, not per failed push. */
  tripped = false;

  constructor(readonly colo: Colo) {}
}

export class PushScheduler {
  private readonly lanes: Lane[];
  private queued = 0;
  private active = 0;
  private next = 0;
  private closing = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: SchedulerOptions) {
    this.lanes = o.colos.map((c) => new Lane(c));
  }

  get depth(): number {
    return this.queued;
  }

  get inFlight(): number {
    return this.active;
  }

  inFlightFor(colo: Colo): number {
    return this.lanes[colo.index]?.inFlight ?? 0;
  }

  isOpen(colo: Colo): boolean {
    const lane = this.lanes[colo.index];
    return lane !== undefined && lane.openUntil > this.o.now();
  }

  /**
   * Refusals knowable before any per-path work: the colo's breaker is open, or the
   * scheduler is closing. Asking first keeps a dead colo's paths out of dedup, where
   * claiming and releasing them would evict other colos' entries.
   */
  refusal(colo: Colo): SchedulerDropReason | undefined {
    if (this.closing) return 'shutdown';
    const lane = this.lanes[colo.index];
    return lane !== undefined && lane.openUntil > this.o.now() ? 'colo_down' : undefined;
  }

  /** Queues a push, or says why not (and then `onDropped` is not called: the caller counts it). */
  enqueue(colo: Colo, path: string, deadline: number, format: FormatClass = 'jpeg'): 'queued' | SchedulerDropReason {
    if (this.closing) return 'shutdown';
    const lane = this.lanes[colo.index];
    if (!lane) throw new RangeError(`unknown colo index ${colo.index}`);
    const now = this.o.now();
    if (lane.openUntil > now) return 'colo_down';
    if (this.queued >= this.o.queueMax) {
      this.shedStale(now);
      if (this.queued >= this.o.queueMax) return 'overload';
    }
    // Allocated only once accepted: refusals under overload stay allocation-free.
    lane.queue.push({ colo, path, format, deadline });
    this.queued++;
    this.pump();
    return 'queued';
  }

  private limit(lane: Lane, now: number): number {
    if (lane.openUntil > now) return 0;
    return lane.halfOpen || lane.openUntil !== 0 ? 1 : this.o.perColoConcurrency;
  }

  private pump(): void {
    const n = this.lanes.length;
    let now = this.o.now();
    let idle = 0;
    while (this.active < this.o.concurrency && this.queued > 0 && idle < n) {
      const lane = this.lanes[this.next] as Lane;
      this.next = (this.next + 1) % n;
      if (lane.queue.length === 0 || lane.inFlight >= this.limit(lane, now)) {
        idle++;
        continue;
      }
      idle = 0;
      const job = lane.queue.shift() as PushJob;
      this.queued--;
      if (job.deadline < now) {
        this.o.onDropped(job, 'stale');
        continue;
      }
      const blocked = this.o.blocked?.(job);
      if (blocked) {
        this.o.onDropped(job, blocked);
        continue;
      }
      if (lane.openUntil !== 0 && lane.openUntil <= now) {
        lane.openUntil = 0;
        lane.halfOpen = true;
      }
      this.start(lane, job);
      now = this.o.now();
    }
  }

  private start(lane: Lane, job: PushJob): void {
    this.active++;
    lane.inFlight++;
    try {
      this.o.run(job, (result) => this.finish(lane, job, result));
    } catch {
      // `run` must not throw; if it does anyway, count a failure rather than leak a slot.
      queueMicrotask(() => this.finish(lane, job, { ok: false, failure: true }));
    }
  }

  private finish(lane: Lane, job: PushJob, result: PushResult): void {
    this.active--;
    lane.inFlight--;
    this.o.onSettled(job, result);
    if (result.failure) this.recordFailure(lane);
    else if (lane.failures !== 0 || lane.halfOpen) {
      lane.failures = 0;
      lane.halfOpen = false;
      if (lane.tripped) {
        lane.tripped = false;
        this.o.onBreaker?.(lane.colo, false);
      }
    }
    if (this.active === 0 && this.closing) this.wakeIdle();
    this.pump();
  }

  private recordFailure(lane: Lane): void {
    lane.failures++;
    if (!lane.halfOpen && lane.failures < this.o.breakerFailures) return;
    lane.halfOpen = false;
    // Pushes already in flight when it opened fail too: they extend the cooldown, but
    // the breaker opened once (issue 9: five "open" lines in one millisecond).
    lane.openUntil = this.o.now() + this.o.breakerCooldownMs;
    if (!lane.tripped) {
      lane.tripped = true;
      this.o.onBreaker?.(lane.colo, true);
    }
    // What waits for a colo that is down would only go stale: shed it now.
    for (const job of lane.queue.drain()) {
      this.queued--;
      this.o.onDropped(job, 'colo_down');
    }
  }

  /** Drops expired pushes from the heads of the lanes (heads are the oldest). */
  private shedStale(now: number): void {
    for (const lane of this.lanes) {
      let head = lane.queue.peek();
      while (head && head.deadline < now) {
        lane.queue.shift();
        this.queued--;
        this.o.onDropped(head, 'stale');
        head = lane.queue.peek();
      }
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Stops taking pushes, drops what is queued (`shutdown`), and resolves when the
   * pushes in flight finish or `graceMs` passes, whichever is first.
   */
  async close(graceMs: number): Promise<{ abandoned: number }> {
    this.closing = true;
    for (const lane of this.lanes) {
      for (const job of lane.queue.drain()) {
        this.queued--;
        this.o.onDropped(job, 'shutdown');
      }
    }
    if (this.active > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => this.idleWaiters.push(r)),
        new Promise<void>((r) => {
          timer = setTimeout(r, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    return { abandoned: this.active };
  }
}
