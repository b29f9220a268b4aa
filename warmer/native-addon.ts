/**
 * The native engine's addon (warmer/native/, built by setup into .cache/bin). Where it is
 * not built, or HEARTH_PUSH=off, the warmer pushes with undici and reads hints with node:dgram.
 */
import { NATIVE_HELPERS, loadAddon } from '../common/index.js';

export interface NativeEngineOptions {
  /** Numeric IPv4 or IPv6 address of the proxy. */
  address: string;
  port: number;
  /** Colo i's Host header. */
  hosts: string[];
  /** The `Accept` of a push of variant v (at most maxVariants, each at most acceptMaxBytes). */
  accepts: string[];
  /** Per colo. */
  connections: number;
  timeoutMs: number;
  /** An idle connection is closed after this long. */
  idleMs: number;
  method: 'HEAD' | 'GET';
  userAgent: string;
}

/** An opaque engine handle. */
export type NativeEngineHandle = { readonly __engine: unique symbol };

/** The layouts and codes the engine writes (warmer/native/hearth-push.h, the one place they are defined). */
export interface NativeConstants {
  /** A record's error kind → the code a push report names (`''`: the response came whole). */
  readonly kinds: readonly string[];
  /** Kinds whose record carries an errno, named instead of the kind. */
  readonly errnoKinds: readonly number[];
  /** X-Cache-Status codes 1, 2, ...: nginx's $upstream_cache_status values. */
  readonly cacheStatuses: readonly string[];
  /** The code of an X-Cache-Status that is none of them. */
  readonly cacheOther: number;
  /** u32s per record: token, status | cache << recordCacheShift | kind << recordKindShift, µs, errno. */
  readonly recordWords: number;
  readonly recordCacheShift: number;
  readonly recordKindShift: number;
  /** A datagram: [u32 length][u32 kept | verdict << datagramVerdictShift][bytes, padded to 4]. */
  readonly datagramHeader: number;
  /** Bytes kept of one datagram. */
  readonly datagramSlot: number;
  readonly datagramKeptMask: number;
  readonly datagramVerdictShift: number;
  /** Verdicts besides 1 + the index of the key that signed it. */
  readonly sigNotChecked: number;
  readonly sigNoMatch: number;
  readonly sigNotThere: number;
  /** Where api-hook puts the signature (`,"sig":"`), and its base64url length. */
  readonly sigMember: string;
  readonly sigChars: number;
  /** Keys the engine checks; with more, JavaScript checks them all. */
  readonly maxKeys: number;
  readonly statsPerColo: number;
  readonly pathMaxBytes: number;
  readonly maxVariants: number;
  readonly acceptMaxBytes: number;
}

export interface NativeEngineAddon {
  readonly constants: NativeConstants;
  create(o: NativeEngineOptions, onRecords: () => void): NativeEngineHandle;
  /** False when the path can never go on a request line (not printable ASCII, too long). */
  push(e: NativeEngineHandle, token: number, colo: number, path: string, variant: number): boolean;
  flush(e: NativeEngineHandle): void;
  /** Copies push records and received datagrams; counts = [records, datagram bytes, 1 if more are left: call again]. */
  drain(e: NativeEngineHandle, records: Uint32Array, datagrams: Uint8Array, counts: Uint32Array): void;
  /** Binds the hint socket, read by the engine's thread; throws with the errno's name as code. */
  listen(e: NativeEngineHandle, o: { address: string; port: number; recvBufferBytes: number }): { port: number; recvBuffer: number };
  /** HMAC keys the thread checks each datagram against, before listen; returns how many it took (0: more than maxKeys). */
  setKeys(e: NativeEngineHandle, keys: Uint8Array[]): number;
  /** Closes the hint socket (on the engine's thread, at its next turn). */
  unlisten(e: NativeEngineHandle): void;
  /** Per colo, statsPerColo numbers: open connections, connects, connect failures, retries. */
  stats(e: NativeEngineHandle, out: Float64Array): void;
  close(e: NativeEngineHandle): void;
}

/** The addon, or null where it is not built or HEARTH_PUSH=off (common/native.ts). */
export const nativeEngineAddon = (): NativeEngineAddon | null => loadAddon<NativeEngineAddon>(NATIVE_HELPERS.push);
