/**
 * The race join: for each (colo, path, format class) the warmer pushed into a cache (a
 * class is its own cached object, and its own race), was the path's first viewer request a HIT begun after the push completed (won), a HIT begun while
 * the push was still fetching (in_flight: it waited on the cache lock, a HIT that paid
 * part of an origin round trip), or not a HIT (lost: MISS, UPDATING, …)? And how long
 * after the push completed did it begin (or, begun before, by how much was the push late)? No log tool does this (mtail and its kind count lines one at a time; this
 * pairs two lines, from different clients and maybe different nodes' logs, that may
 * be read in either order), so it is written here.
 *
 * Times come from the log lines (nginx's `msec`, completion, minus `request_time` for
 * a start), never from when a line is read, so the order lines arrive in does not
 * matter. Memory is bounded: an LRU of at most `maxTracked` pairs, each expiring.
 */
import { LRUCache } from 'lru-cache';
import type { CacheLogLine } from '../topology/index.js';

/** Where a race is run: a colo's cache, for one format class (a class is its own cached object). */
export interface RaceAt {
  colo: string;
  format: string;
}

type Entry =
  /** A push filled the cache at `doneAt`; no viewer yet. */
  | { state: 'pushed'; at: RaceAt; doneAt: number }
  /** A viewer came first (its line read before any push's); a push may still be logged. */
  | { state: 'viewed'; at: RaceAt; startAt: number; cache: string; tookS: number }
  /** Counted, or no race (the push found the object cached already): later lines are not first views. */
  | { state: 'decided'; at: RaceAt };

export const RACE_OUTCOMES = ['won', 'in_flight', 'lost'] as const;
export type RaceOutcome = (typeof RACE_OUTCOMES)[number];

export interface RaceEvents {
  /** `pushToViewS`: from the push's completion to the view's start, negative when the viewer began first; `tookS`: the view's own request time. */
  firstView(at: RaceAt, outcome: RaceOutcome, pushToViewS: number, tookS: number): void;
  unviewed(at: RaceAt): void;
  evicted(state: Entry['state']): void;
}

export interface RaceJoinOptions {
  maxTracked: number;
  viewWindowMs: number;
  viewerWaitMs: number;
  /** A clock in ms for expiry (tests drive it); default performance.now. */
  now?: () => number;
}

export class RaceJoin {
  private readonly entries: LRUCache<string, Entry>;

  constructor(
    private readonly o: RaceJoinOptions,
    private readonly events: RaceEvents,
  ) {
    this.entries = new LRUCache<string, Entry>({
      max: o.maxTracked,
      ttl: o.viewWindowMs,
      noDisposeOnSet: true,
      // Read the clock on every check (lru-cache otherwise caches it for a timer's tick).
      ttlResolution: 0,
      ...(o.now ? { perf: { now: o.now } } : {}),
      dispose: (e, _key, reason) => {
        if (reason === 'evict') events.evicted(e.state);
        else if (reason === 'expire' && e.state === 'pushed') events.unviewed(e.at);
      },
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Counts expired pushes as unviewed now (otherwise that happens when they are touched or evicted). */
  purge(): void {
    this.entries.purgeStale();
  }

  /** Takes one cache node line; says whether it took part in a race (a push or a first view). */
  add(l: CacheLogLine): boolean {
    const key = `${l.colo} ${l.format} ${l.uri}`;
    const at = { colo: l.colo, format: l.format };
    const e = this.entries.get(key);
    if (l.role === 'push') {
      // A push that failed warmed nothing.
      if (l.status < 200 || l.status >= 300) return false;
      if (e?.state === 'viewed') return this.decide(key, at, e, l.msec);
      if (e) return false;
      // The object was there already (a repeat push, a path viewed long ago): no race to count.
      if (l.cache === 'HIT') this.entries.set(key, { state: 'decided', at });
      else this.entries.set(key, { state: 'pushed', at, doneAt: l.msec });
      return true;
    }
    // The cache was not consulted (a refused path or method).
    if (l.cache === '') return false;
    const startAt = l.msec - l.requestTime;
    const view = { startAt, cache: l.cache, tookS: l.requestTime };
    if (e?.state === 'pushed') return this.decide(key, at, view, e.doneAt);
    if (e?.state === 'viewed') {
      // Two nodes' logs read out of order: the earlier request is the first view.
      if (startAt < e.startAt) this.entries.set(key, { ...e, ...view }, { ttl: this.o.viewerWaitMs });
      return false;
    }
    if (e) return false;
    this.entries.set(key, { state: 'viewed', at, ...view }, { ttl: this.o.viewerWaitMs });
    return true;
  }

  private decide(key: string, at: RaceAt, view: { startAt: number; cache: string; tookS: number }, pushDone: number): true {
    // A HIT begun before the push completed waited on the push's fetch (the cache lock): neither won nor lost.
    const outcome = view.cache !== 'HIT' ? 'lost' : view.startAt < pushDone ? 'in_flight' : 'won';
    this.events.firstView(at, outcome, view.startAt - pushDone, view.tookS);
    this.entries.set(key, { state: 'decided', at });
    return true;
  }
}
