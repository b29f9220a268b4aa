/**
 * The push client on the native engine (warmer/native/hearth-push.c): the event loop
 * only hands a path over and, in batches, reads back what came of it; connections,
 * requests and responses live on the engine's own thread.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { constants } from 'node:os';
import { HearthError } from '../common/index.js';
import type { HintReceiver, HintReceiverOptions, Listening } from './hint-receiver.js';
import type { NativeEngine, NativePushAddon } from './native-push.js';
import { errorReport, responseReport, type PushClient, type PushReport } from './push-report.js';

export interface NativePusherOptions {
  readonly proxy: string;
  readonly method: 'HEAD' | 'GET';
  /** Connections per colo (each carries one push at a time). */
  readonly connections: number;
  readonly timeoutMs: number;
  readonly userAgent: string;
  /** Colo index i's Host. */
  readonly hosts: readonly string[];
}

/** X-Cache-Status by the engine's code (0: none; 255: another value, reported as `other`). */
const CACHE_NAMES = [undefined, 'hit', 'miss', 'expired', 'stale', 'updating', 'revalidated', 'bypass'];
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));
/** The engine's error kinds (hearth-push.c, enum K_*); 1 and 5 carry an errno. */
const KINDS = [
  '',
  'connect',
  'HEARTH_ERR_CONNECT_TIMEOUT',
  'HEARTH_ERR_TIMEOUT',
  'HEARTH_ERR_CLOSED',
  'socket',
  'HEARTH_ERR_BAD_RESPONSE',
  'HEARTH_ERR_NO_CONNECTION',
];
const RECORDS = 4096;
const DATAGRAM_BYTES = 1 << 20;
const IDLE_MS = 60_000;

function errorCode(kind: number, errno: number): string {
  if (kind === 1 || kind === 5) return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  return KINDS[kind] ?? `HEARTH_ERR_KIND_${kind}`;
}

export class NativePusher implements PushClient {
  readonly kind = 'native';
  private engine: NativeEngine | undefined;
  /** A push's `done`, by token; tokens are reused through `free`. */
  private readonly dones: (((r: PushReport) => void) | undefined)[] = [];
  private readonly free: number[] = [];
  private readonly out = new Uint32Array(4 * RECORDS);
  private readonly dgs = Buffer.alloc(DATAGRAM_BYTES);
  private readonly counts = new Uint32Array(3);
  private onDatagram: ((buf: Buffer, sig?: number) => void) | undefined;
  /** The engine checks signatures (it takes up to 8 keys). */
  private verdicts = false;
  private readonly stats: Float64Array;
  private readonly proxy: URL;
  private flushQueued = false;
  private closed = false;

  constructor(
    private readonly addon: NativePushAddon,
    private readonly o: NativePusherOptions,
  ) {
    this.stats = new Float64Array(4 * o.hosts.length);
    this.proxy = new URL(o.proxy);
    if (this.proxy.protocol !== 'http:')
      throw new HearthError('HEARTH_ERR_INVALID', `the native push client speaks plain HTTP; ${o.proxy} needs push.client "undici"`);
  }

  /** Resolves the proxy's host once (a numeric address needs no lookup) and starts the engine. */
  async open(): Promise<void> {
    if (this.engine || this.closed) return;
    const u = this.proxy;
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const address = isIP(host) ? host : (await lookup(host)).address;
    this.engine = this.addon.create(
      {
        address,
        port: Number(u.port || 80),
        hosts: [...this.o.hosts],
        connections: this.o.connections,
        timeoutMs: this.o.timeoutMs,
        idleMs: IDLE_MS,
        method: this.o.method,
        userAgent: this.o.userAgent,
      },
      this.onRecords,
    );
  }

  push(coloIndex: number, _coloHost: string, path: string, done: (r: PushReport) => void): void {
    const engine = this.engine;
    if (!engine) {
      process.nextTick(done, errorReport(this.closed ? 'HEARTH_ERR_CLOSED' : 'HEARTH_ERR_NOT_OPEN', 0));
      return;
    }
    let token = this.free.pop();
    if (token === undefined) {
      token = this.dones.length;
      this.dones.push(undefined);
    }
    if (!this.addon.push(engine, token, coloIndex, path)) {
      this.free.push(token);
      process.nextTick(done, errorReport('HEARTH_ERR_PATH', 0));
      return;
    }
    this.dones[token] = done;
    if (!this.flushQueued) {
      // One wake-up of the engine per event-loop turn, however many pushes the turn made.
      this.flushQueued = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.engine) this.addon.flush(this.engine);
  };

  private readonly onRecords = (): void => {
    const out = this.out;
    const counts = this.counts;
    for (;;) {
      if (!this.engine) return;
      this.addon.drain(this.engine, out, this.dgs, counts);
      const n = counts[0] as number;
      this.datagrams(counts[1] as number);
      for (let i = 0; i < n; i++) {
        const token = out[4 * i] as number;
        const word = out[4 * i + 1] as number;
        const seconds = (out[4 * i + 2] as number) / 1e6;
        const done = this.dones[token];
        if (!done) continue;
        this.dones[token] = undefined;
        this.free.push(token);
        const kind = word >>> 24;
        const cache = (word >>> 16) & 0xff;
        const report =
          kind === 0
            ? responseReport(word & 0xffff, cache === 255 ? 'other' : CACHE_NAMES[cache], seconds)
            : errorReport(errorCode(kind, out[4 * i + 3] as number), seconds);
        try {
          done(report);
        } catch (err) {
          // One push's bookkeeping must not cost the others their results.
          process.nextTick(() => {
            throw err;
          });
        }
      }
      if (counts[2] === 0) return;
    }
  };

  /** Hands each drained datagram ([u32 length][u32 kept][bytes, padded to 4]) to the warmer. */
  private datagrams(bytes: number): void {
    const on = this.onDatagram;
    const b = this.dgs;
    for (let at = 0; at < bytes;) {
      const word = b.readUInt32LE(at + 4);
      const kept = word & 0xffffff;
      // A datagram longer than was kept (4,096 bytes) is over the wire format's limit anyway.
      // The warmer's handler never throws (a bug costs one hint), as with node:dgram's.
      on?.(b.subarray(at + 8, at + 8 + kept), this.verdicts ? word >>> 24 : undefined);
      at += 8 + ((kept + 3) & ~3);
    }
  }

  /** The engine's hint socket: read on the push thread, many datagrams a wake-up. */
  receiver(): HintReceiver {
    return {
      kind: 'native',
      listen: async (o: HintReceiverOptions): Promise<Listening> => {
        await this.open();
        if (!this.engine) throw new HearthError('HEARTH_ERR_INVALID', 'the push client is closed');
        this.onDatagram = o.onDatagram;
        if (o.keys && o.keys.length > 0) this.verdicts = this.addon.setKeys(this.engine, [...o.keys]) === o.keys.length;
        const r = this.addon.listen(this.engine, { address: o.host, port: o.port, recvBufferBytes: o.recvBufferBytes });
        return { address: o.host, port: r.port, recvBuffer: r.recvBuffer };
      },
      close: () => {
        // What was read before stays to be handled: its hints meet a closing scheduler and are counted.
        if (this.engine) this.addon.unlisten(this.engine);
        return Promise.resolve();
      },
    };
  }

  private stat(coloIndex: number, k: number): number {
    if (this.engine) this.addon.stats(this.engine, this.stats);
    return this.stats[4 * coloIndex + k] ?? 0;
  }

  connections(coloIndex: number): number {
    return this.stat(coloIndex, 0);
  }

  counters(coloIndex: number): { connects: number; connectFailures: number; retries: number } {
    return { connects: this.stat(coloIndex, 1), connectFailures: this.stat(coloIndex, 2), retries: this.stat(coloIndex, 3) };
  }

  close(): Promise<void> {
    this.closed = true;
    const engine = this.engine;
    this.engine = undefined;
    if (engine) this.addon.close(engine);
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    return this.close();
  }
}
