/**
 * The native push client's addon (warmer/native/hearth-push.c, built by setup into
 * .cache/bin). Where it is not built, or HEARTH_PUSH=off, the warmer pushes with undici.
 */
import { NATIVE_HELPERS, loadAddon, nativeWhere } from '../common/index.js';

export interface NativeEngineOptions {
  /** Numeric IPv4 or IPv6 address of the proxy. */
  address: string;
  port: number;
  /** Colo i's Host header. */
  hosts: string[];
  /** Per colo. */
  connections: number;
  timeoutMs: number;
  /** An idle connection is closed after this long. */
  idleMs: number;
  method: 'HEAD' | 'GET';
  userAgent: string;
}

/** An opaque engine handle. */
export type NativeEngine = { readonly __engine: unique symbol };

export interface NativePushAddon {
  create(o: NativeEngineOptions, onRecords: () => void): NativeEngine;
  /** False when the path can never go on a request line (not printable ASCII, too long). */
  push(e: NativeEngine, token: number, colo: number, path: string): boolean;
  flush(e: NativeEngine): void;
  /**
   * Copies push records (4 u32s each: token, status | cache << 16 | kind << 24, µs, errno)
   * and received datagrams ([u32 length][u32 kept][bytes, padded to 4]);
   * counts = [records, datagram bytes, 1 if more are left: call again].
   */
  drain(e: NativeEngine, records: Uint32Array, datagrams: Uint8Array, counts: Uint32Array): void;
  /** Binds the hint socket, read by the engine's thread; throws with the errno's name as code. */
  listen(e: NativeEngine, o: { address: string; port: number; recvBufferBytes: number }): { port: number; recvBuffer: number };
  /** HMAC keys the thread checks each datagram against, before listen; returns how many it took (0: more than 8). */
  setKeys(e: NativeEngine, keys: Uint8Array[]): number;
  /** Closes the hint socket (on the engine's thread, at its next turn). */
  unlisten(e: NativeEngine): void;
  /** Per colo, 4 numbers: open connections, connects, connect failures, retries. */
  stats(e: NativeEngine, out: Float64Array): void;
  close(e: NativeEngine): void;
}

/** Where the addon is looked for (`HEARTH_PUSH`: common/native.ts). */
export const NATIVE_PUSH = nativeWhere(NATIVE_HELPERS.push);

/** The addon, or null where it is not built (or HEARTH_PUSH=off). */
export const nativePush = (): NativePushAddon | null => loadAddon<NativePushAddon>(NATIVE_HELPERS.push);
