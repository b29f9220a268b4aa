/**
 * Hint wire format, version 1: the contract between api-hook and the warmer.
 * Both sides import these definitions so the format lives in one place.
 */
import { createHmac } from 'node:crypto';

export const WIRE_VERSION = 1;
/** Keeps a datagram under a typical 1500-byte MTU so it is never IP-fragmented. */
export const MAX_DATAGRAM_BYTES = 1400;
export const MAX_PATHS_PER_HINT = 64;
/** Introduces the signature; the MAC covers everything before it, then `}`. */
export const SIG_MEMBER = ',"sig":"';
/** HMAC-SHA256 is 32 bytes: 43 characters of base64url without padding. */
export const SIG_CHARS = 43;
/** A colo's name, as hints, configs, metrics and logs spell it. */
export const COLO_NAME = '^[a-z0-9][a-z0-9_-]{0,31}$';
/** The id of an HMAC key (`kid`), so keys can rotate. */
export const KEY_ID = '^[A-Za-z0-9_.-]{1,64}$';

/**
 * MAC over the datagram's exact bytes up to (not including) `,"sig":`, followed by `}`.
 * Signing the bytes as sent means neither side re-serialises JSON.
 */
export function computeSignature(key: string | Buffer, unsignedPrefix: string | Buffer): string {
  return createHmac('sha256', key).update(unsignedPrefix).update('}').digest('base64url');
}
