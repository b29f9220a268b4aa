/**
 * The native engine (warmer/native/), as one transport with two faces: `pushes`, the push
 * client, and `hints`, the hint socket. Both live on the engine's own thread; the event
 * loop only hands a path over and, in batches, reads back what came of pushes and which
 * datagrams arrived. One life cycle: `open` starts the engine, `close` stops both faces.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { constants as os } from 'node:os';
import { HearthError } from '../common/index.js';
import type { HintSocket, HintSocketOptions, Listening } from './hint-socket.js';
import type { NativeConstants, NativeEngineAddon, NativeEngineHandle } from './native-addon.js';
import { errorReport, responseReport, type PushClient, type PushReport } from './push-client.js';
import type { Transport } from './transport.js';
import { CLASS_ACCEPT, FORMAT_CLASSES, type FormatClass } from '@hearth/api-hook';

/** A push's variant: its format class's place in the `accepts` the engine was made with. */
const VARIANT_INDEX = Object.fromEntries(FORMAT_CLASSES.map((f, i) => [f, i])) as Record<FormatClass, number>;

export interface NativeEngineConfig {
  readonly proxy: string;
  readonly method: 'HEAD' | 'GET';
  /** Connections per colo (each carries one push at a time). */
  readonly connections: number;
  readonly timeoutMs: number;
  readonly userAgent: string;
  /** Colo index i's Host. */
  readonly hosts: readonly string[];
}

const RECORDS = 4096;
const DATAGRAM_BYTES = 1 << 20;
const IDLE_MS = 60_000;
const ERRNO_NAMES = new Map(Object.entries(os.errno).map(([name, n]) => [n, name]));

export class NativeEngine implements Transport {
  readonly kind = 'native';
  readonly pushes: PushClient;
  readonly hints: HintSocket;
  private handle: NativeEngineHandle | undefined;
  private readonly c: NativeConstants;
  private readonly proxy: URL;
  private closed = false;
  /** A push's `done`, by token; tokens are reused through `free`. */
  private readonly dones: (((r: PushReport) => void) | undefined)[] = [];
  private readonly free: number[] = [];
  private readonly out: Uint32Array;
  private readonly dgs = Buffer.alloc(DATAGRAM_BYTES);
  private readonly counts = new Uint32Array(3);
  private readonly stats: Float64Array;
  private flushQueued = false;
  private onDatagram: ((buf: Buffer, signedBy?: number) => void) | undefined;
  /** The engine checks signatures (it takes up to maxKeys keys). */
  private verdicts = false;

  constructor(
    private readonly addon: NativeEngineAddon,
    private readonly o: NativeEngineConfig,
  ) {
    this.c = addon.constants;
    this.out = new Uint32Array(this.c.recordWords * RECORDS);
    this.stats = new Float64Array(this.c.statsPerColo * o.hosts.length);
    this.proxy = new URL(o.proxy);
    if (this.proxy.protocol !== 'http:')
      throw new HearthError('HEARTH_ERR_INVALID', `the native push client speaks plain HTTP; ${o.proxy} needs push.client "undici"`);
    this.pushes = {
      kind: 'native',
      push: (coloIndex, _coloHost, path, format, done) => this.push(coloIndex, path, format, done),
      connections: (coloIndex) => this.stat(coloIndex, 0),
      counters: (coloIndex) => ({ connects: this.stat(coloIndex, 1), connectFailures: this.stat(coloIndex, 2), retries: this.stat(coloIndex, 3) }),
    };
    this.hints = { kind: 'native', listen: (h) => this.listen(h), close: () => this.unlisten() };
  }

  /** Resolves the proxy's host once (a numeric address needs no lookup) and starts the engine. */
  async open(): Promise<void> {
    if (this.handle || this.closed) return;
    const u = this.proxy;
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const address = isIP(host) ? host : (await lookup(host)).address;
    this.handle = this.addon.create(
      {
        address,
        port: Number(u.port || 80),
        hosts: [...this.o.hosts],
        accepts: FORMAT_CLASSES.map((f) => CLASS_ACCEPT[f]),
        connections: this.o.connections,
        timeoutMs: this.o.timeoutMs,
        idleMs: IDLE_MS,
        method: this.o.method,
        userAgent: this.o.userAgent,
      },
      this.onRecords,
    );
  }

  /** Stops the thread: every connection and the hint socket close; pushes in flight are abandoned, never reported. */
  close(): Promise<void> {
    this.closed = true;
    const handle = this.handle;
    this.handle = undefined;
    if (handle) this.addon.close(handle);
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    return this.close();
  }

  // ---- the push face ----

  private push(coloIndex: number, path: string, format: FormatClass, done: (r: PushReport) => void): void {
    const handle = this.handle;
    if (!handle) {
      process.nextTick(done, errorReport(this.closed ? 'HEARTH_ERR_CLOSED' : 'HEARTH_ERR_NOT_OPEN', 0));
      return;
    }
    let token = this.free.pop();
    if (token === undefined) {
      token = this.dones.length;
      this.dones.push(undefined);
    }
    if (!this.addon.push(handle, token, coloIndex, path, VARIANT_INDEX[format])) {
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
    if (this.handle) this.addon.flush(this.handle);
  };

  private stat(coloIndex: number, k: number): number {
    if (this.handle) this.addon.stats(this.handle, this.stats);
    return this.stats[this.c.statsPerColo * coloIndex + k] ?? 0;
  }

  private errorCode(kind: number, errno: number): string {
    if (this.c.errnoKinds.includes(kind)) return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
    return this.c.kinds[kind] ?? `HEARTH_ERR_KIND_${kind}`;
  }

  private report(word: number, seconds: number, errno: number): PushReport {
    const c = this.c;
    const kind = word >>> c.recordKindShift;
    if (kind !== 0) return errorReport(this.errorCode(kind, errno), seconds);
    const cache = (word >>> c.recordCacheShift) & 0xff;
    const name = cache === c.cacheOther ? 'other' : cache === 0 ? undefined : c.cacheStatuses[cache - 1];
    return responseReport(word & ((1 << c.recordCacheShift) - 1), name, seconds);
  }

  /** Called by the engine when records or datagrams wait; drains until nothing is left. */
  private readonly onRecords = (): void => {
    const { out, counts } = this;
    const words = this.c.recordWords;
    for (;;) {
      if (!this.handle) return;
      this.addon.drain(this.handle, out, this.dgs, counts);
      const n = counts[0] as number;
      this.datagrams(counts[1] as number);
      for (let i = 0; i < n; i++) {
        const at = words * i;
        const token = out[at] as number;
        const done = this.dones[token];
        if (!done) continue;
        this.dones[token] = undefined;
        this.free.push(token);
        const report = this.report(out[at + 1] as number, (out[at + 2] as number) / 1e6, out[at + 3] as number);
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

  // ---- the hint face ----

  private async listen(o: HintSocketOptions): Promise<Listening> {
    await this.open();
    if (!this.handle) throw new HearthError('HEARTH_ERR_INVALID', 'the native engine is closed');
    this.onDatagram = o.onDatagram;
    if (o.keys && o.keys.length > 0) this.verdicts = this.addon.setKeys(this.handle, [...o.keys]) === o.keys.length;
    const r = this.addon.listen(this.handle, { address: o.host, port: o.port, recvBufferBytes: o.recvBufferBytes });
    return { address: o.host, port: r.port, recvBuffer: r.recvBuffer };
  }

  private unlisten(): Promise<void> {
    // What was read before stays to be handled: its hints meet a closing scheduler and are counted.
    if (this.handle) this.addon.unlisten(this.handle);
    return Promise.resolve();
  }

  /** The engine's verdict on a datagram as `onDatagram` takes it: the signing key's index, -1 for none, or undefined (JavaScript checks). */
  private signedBy(verdict: number): number | undefined {
    const c = this.c;
    if (!this.verdicts || verdict === c.sigNotChecked || verdict === c.sigNotThere) return undefined;
    return verdict === c.sigNoMatch ? -1 : verdict - 1;
  }

  /** Hands each drained datagram to the warmer. */
  private datagrams(bytes: number): void {
    const on = this.onDatagram;
    const { datagramHeader: header, datagramKeptMask: mask, datagramVerdictShift: shift } = this.c;
    const b = this.dgs;
    for (let at = 0; at < bytes;) {
      const word = b.readUInt32LE(at + 4);
      const kept = word & mask;
      // A datagram longer than was kept (datagramSlot bytes) is over the wire format's limit anyway.
      // The warmer's handler never throws (a bug costs one hint), as with node:dgram's.
      on?.(b.subarray(at + header, at + header + kept), this.signedBy(word >>> shift));
      at += header + ((kept + 3) & ~3);
    }
  }
}
