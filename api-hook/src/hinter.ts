import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { MAX_DATAGRAM_BYTES, MAX_PATHS_PER_HINT, SIG_CHARS, SIG_MEMBER, WIRE_VERSION, computeSignature } from './wire.js';
import { Rendezvous } from './rendezvous.js';
import { DEFAULT_FORMAT_CLASS, formatClass, isFormatClass, type FormatClass } from './format-class.js';

export interface HinterOptions {
  /** Warmer addresses, `host:port` or `[v6]:port`. Each path always goes to the same one. */
  warmers: readonly string[];
  /** Key id and secret for HMAC signing; both or neither. */
  keyId?: string;
  key?: string | Buffer;
  /** Datagrams that may wait for the next flush before new ones are dropped (default 8192). */
  maxPending?: number;
  /** Clock for `ts`, epoch milliseconds (default `Date.now`). */
  now?: () => number;
  /** Told about send failures; never rethrown into the caller. */
  onError?: (err: Error) => void;
}

export interface HintInput {
  /** Absolute image paths the page will show. */
  paths: readonly string[];
  /** The viewer's IP address, v4 or v6 ... */
  viewer?: string;
  /** ... or a colo name the API server already knows. */
  colo?: string;
  /**
   * The viewer's `Accept` header, as the page request carried it: the warmer pushes the
   * encoding (format class) that viewer's browser will ask for. Without it (or `format`), JPEG.
   */
  accept?: string;
  /** The viewer's format class, where the API server decided it already (wins over `accept`). */
  format?: FormatClass;
}

export type HintDropReason = 'invalid' | 'path_too_long' | 'overflow' | 'closed';

export interface HinterStats {
  /** `hint()` calls that produced at least one datagram. */
  hints: number;
  /** Datagrams handed to the operating system. */
  datagrams: number;
  /**
   * Datagrams the operating system refused, and refusals it reported back for datagrams
   * already sent (ECONNREFUSED: the warmer's host answered that nothing listens). Lost,
   * never sent again.
   */
  sendErrors: number;
  /** Hints or paths not sent, by reason. `path_too_long` counts paths, the others hints or datagrams. */
  dropped: Record<HintDropReason, number>;
}

export interface Hinter {
  /** Builds, signs and queues the page's datagrams; they leave on the next event-loop turn. Never throws. */
  hint(input: HintInput): void;
  /** Sends whatever is queued now instead of on the next turn. Never throws. */
  flush(): void;
  stats(): HinterStats;
  /** Sends what is queued, then closes the sockets. */
  close(): Promise<void>;
}

interface WarmerSocket {
  readonly address: string;
  readonly socket: dgram.Socket;
  connected: boolean;
  /**
   * Datagrams not yet sent, unsigned and as strings: signing and encoding happen at
   * flush, off the caller's request path (send encodes strings anyway).
   */
  pending: string[];
}

/** Printable ASCII without `"` or `\`: JSON needs no escaping and bytes equal length. */
const PLAIN = /^[ !#-[\]-~]*$/;

export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`warmer address ${JSON.stringify(address)} is not host:port or [v6]:port`);
  }
  return { host, port };
}

const SIG_RESERVED = SIG_MEMBER.length + SIG_CHARS + 1; // ,"sig":"…"

class UdpHinter implements Hinter {
  private readonly warmers: WarmerSocket[];
  private readonly ring: Rendezvous<WarmerSocket>;
  private readonly key: string | Buffer | undefined;
  private readonly trailer: string;
  private readonly trailerBytes: number;
  private readonly maxPending: number;
  private readonly now: () => number;
  private readonly onError: (err: Error) => void;
  private pendingCount = 0;
  private flushScheduled = false;
  private closed = false;
  private readonly counters: HinterStats = {
    hints: 0,
    datagrams: 0,
    sendErrors: 0,
    dropped: { invalid: 0, path_too_long: 0, overflow: 0, closed: 0 },
  };
  private readonly onSent = (err: Error | null): void => {
    if (err) {
      this.counters.sendErrors++;
      this.report(err);
    }
  };
  private readonly runFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(opts: HinterOptions) {
    if (!opts || !Array.isArray(opts.warmers) || opts.warmers.length === 0) {
      throw new TypeError('createHinter: option "warmers" must be a non-empty array of "host:port"');
    }
    if ((opts.key === undefined) !== (opts.keyId === undefined)) {
      throw new TypeError('createHinter: options "keyId" and "key" go together');
    }
    if (opts.keyId !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(opts.keyId)) {
      throw new TypeError('createHinter: option "keyId" must be 1-64 of [A-Za-z0-9_.-]');
    }
    if (opts.key !== undefined && opts.key.length < 16) {
      throw new TypeError('createHinter: option "key" must be at least 16 bytes');
    }
    const maxPending = opts.maxPending ?? 8192;
    if (!Number.isInteger(maxPending) || maxPending < 1) {
      throw new TypeError('createHinter: option "maxPending" must be a positive integer');
    }
    this.maxPending = maxPending;
    this.key = opts.key;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => {});
    this.trailer = opts.keyId === undefined ? ']' : `],"kid":${JSON.stringify(opts.keyId)}`;
    this.trailerBytes = this.trailer.length + (this.key === undefined ? 1 : SIG_RESERVED + 1);
    const endpoints = opts.warmers.map(parseHostPort);
    this.warmers = endpoints.map((ep, i) => this.open(opts.warmers[i] as string, ep.host, ep.port));
    this.ring = new Rendezvous(this.warmers, opts.warmers);
  }

  private open(address: string, host: string, port: number): WarmerSocket {
    const socket = dgram.createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    const w: WarmerSocket = { address, socket, connected: false, pending: [] };
    // A connected socket skips the per-send address lookup and gets ICMP errors reported,
    // as an 'error' event of the socket rather than of any send: each is a datagram lost.
    socket.on('error', (err) => this.onSent(err));
    socket.connect(port, host, () => {
      w.connected = true;
      if (w.pending.length > 0) this.schedule();
    });
    // The hinter must never keep its host process alive.
    socket.unref();
    return w;
  }

  private report(err: Error): void {
    try {
      this.onError(err);
    } catch {
      // The caller's handler failing must not reach the caller's request path.
    }
  }

  hint(input: HintInput): void {
    try {
      if (this.closed) {
        this.counters.dropped.closed++;
        return;
      }
      const paths = input?.paths;
      const viewer = input?.viewer;
      const colo = input?.colo;
      if (!Array.isArray(paths) || paths.length === 0) {
        this.counters.dropped.invalid++;
        return;
      }
      let who: string;
      if (typeof viewer === 'string') who = `"viewer":${JSON.stringify(viewer)}`;
      else if (typeof colo === 'string') who = `"colo":${JSON.stringify(colo)}`;
      else {
        this.counters.dropped.invalid++;
        return;
      }
      const format = input.format === undefined ? formatClass(typeof input.accept === 'string' ? input.accept : undefined) : input.format;
      if (!isFormatClass(format)) {
        this.counters.dropped.invalid++;
        return;
      }
      // JPEG is what a hint without `fmt` means: such a hint is byte for byte a v1 hint of before classes.
      const fmt = format === DEFAULT_FORMAT_CLASS ? '' : `"fmt":"${format}",`;
      const header = `{"v":${WIRE_VERSION},"ts":${Math.floor(this.now())},${who},${fmt}"paths":[`;
      const before = this.counters.datagrams + this.pendingCount;
      if (this.warmers.length === 1) {
        this.pack(this.warmers[0] as WarmerSocket, header, paths);
      } else {
        const groups = new Map<number, string[]>();
        for (const p of paths) {
          if (typeof p !== 'string') continue;
          const i = this.ring.pick(p);
          const g = groups.get(i);
          if (g) g.push(p);
          else groups.set(i, [p]);
        }
        for (const [i, g] of groups) this.pack(this.warmers[i] as WarmerSocket, header, g);
      }
      if (this.counters.datagrams + this.pendingCount > before) this.counters.hints++;
    } catch (err) {
      this.counters.dropped.invalid++;
      this.report(err as Error);
    }
  }

  /** Splits one warmer's paths into datagrams of at most 64 paths and 1400 bytes. */
  private pack(w: WarmerSocket, header: string, paths: readonly string[]): void {
    const budget = MAX_DATAGRAM_BYTES - Buffer.byteLength(header) - this.trailerBytes;
    let body = '';
    let bodyBytes = 0;
    let count = 0;
    for (const p of paths) {
      if (typeof p !== 'string' || p.length === 0) {
        this.counters.dropped.invalid++;
        continue;
      }
      const plain = PLAIN.test(p);
      const s = plain ? `"${p}"` : JSON.stringify(p);
      const bytes = plain ? s.length : Buffer.byteLength(s);
      if (bytes > budget) {
        this.counters.dropped.path_too_long++;
        continue;
      }
      if (count === MAX_PATHS_PER_HINT || bodyBytes + bytes + (count > 0 ? 1 : 0) > budget) {
        this.emit(w, header + body);
        body = '';
        bodyBytes = 0;
        count = 0;
      }
      if (count > 0) {
        body += ',';
        bodyBytes++;
      }
      body += s;
      bodyBytes += bytes;
      count++;
    }
    if (count > 0) this.emit(w, header + body);
  }

  private emit(w: WarmerSocket, headerAndPaths: string): void {
    if (this.pendingCount >= this.maxPending) {
      this.counters.dropped.overflow++;
      return;
    }
    w.pending.push(headerAndPaths + this.trailer);
    this.pendingCount++;
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.runFlush);
  }

  flush(): void {
    for (const w of this.warmers) {
      if (!w.connected || w.pending.length === 0) continue;
      const batch = w.pending;
      w.pending = [];
      this.pendingCount -= batch.length;
      for (const unsigned of batch) {
        try {
          const datagram = this.key === undefined ? `${unsigned}}` : `${unsigned}${SIG_MEMBER}${computeSignature(this.key, unsigned)}"}`;
          w.socket.send(datagram, this.onSent);
          this.counters.datagrams++;
        } catch (err) {
          this.counters.sendErrors++;
          this.report(err as Error);
        }
      }
    }
  }

  stats(): HinterStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Give sockets still connecting (a host name being resolved) one chance to send what is queued.
    await new Promise((r) => setImmediate(r));
    this.flush();
    for (const w of this.warmers) {
      this.counters.dropped.closed += w.pending.length;
      this.pendingCount -= w.pending.length;
      w.pending = [];
    }
    await Promise.all(this.warmers.map((w) => new Promise<void>((r) => w.socket.close(() => r()))));
  }
}

/** Creates a hinter for API servers: cheap, fire-and-forget, never throws once constructed. */
export function createHinter(opts: HinterOptions): Hinter {
  return new UdpHinter(opts);
}
