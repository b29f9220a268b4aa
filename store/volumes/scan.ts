/**
 * Reading needles in volume order: the tail written after the index's last record at
 * every start, and a whole volume when its index cannot be trusted.
 */
import type { FileHandle } from 'node:fs/promises';
import { keyHash } from './checksum.js';
import { decodeNeedle, FLAG_TOMBSTONE, NEEDLE_ALIGN, NEEDLE_HEADER_BYTES, NeedleError, needleLength, peekKey, type NeedleFault } from './needle.js';
import { KIND_DELETE, KIND_PUT, type IndexRecord } from './volume-file.js';

const CHUNK = 8 << 20;

export interface ScanResult {
  records: IndexRecord[];
  /** Where the last whole needle ends: the volume's true length. */
  end: number;
  /** Regions skipped as damage (resync only): offset and bytes. */
  damaged: { at: number; bytes: number; fault: NeedleFault }[];
}

export async function readExactly(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const b = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(b, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? b : b.subarray(0, got);
}

/** The index record for the needle whose first bytes (header and key at least) these are. */
export function recordFor(needle: Buffer, at: number, tombstone: boolean, length = needle.length): IndexRecord {
  const h = keyHash(needle.subarray(NEEDLE_HEADER_BYTES, NEEDLE_HEADER_BYTES + needle[3]!));
  return { hashLo: h.lo, hashHi: h.hi, off: at / NEEDLE_ALIGN, len: length / NEEDLE_ALIGN, kind: tombstone ? KIND_DELETE : KIND_PUT };
}

/**
 * Needles from `from` to `to`, every one checked whole. `tail`: stop at the first that is
 * not whole and sound (what follows was never acknowledged; the caller cuts it off).
 * `resync`: step over damage 4 bytes at a time to the next sound needle, reporting what
 * was skipped (a damaged middle must not cost the needles after it).
 */
export async function scanNeedles(fh: FileHandle, from: number, to: number, mode: 'tail' | 'resync'): Promise<ScanResult> {
  const records: IndexRecord[] = [];
  const damaged: ScanResult['damaged'] = [];
  let pos = from;
  let end = from;
  let buf: Buffer = Buffer.alloc(0);
  let bufAt = from;
  let badSince: { at: number; fault: NeedleFault } | undefined;
  const closeDamage = (at: number): void => {
    if (badSince) damaged.push({ at: badSince.at, bytes: at - badSince.at, fault: badSince.fault });
    badSince = undefined;
  };
  while (pos + NEEDLE_HEADER_BYTES <= to) {
    // Enough bytes in hand for this needle's header, then for the whole needle.
    const need = async (n: number): Promise<boolean> => {
      if (pos - bufAt + n <= buf.length) return true;
      const want = Math.min(Math.max(CHUNK, n), to - pos);
      if (want < n) return false;
      buf = await readExactly(fh, pos, want);
      bufAt = pos;
      return buf.length >= n;
    };
    if (!(await need(NEEDLE_HEADER_BYTES))) break;
    const at = pos - bufAt;
    const length = needleLength(buf.subarray(at, at + NEEDLE_HEADER_BYTES));
    let fault: NeedleFault | undefined = length === undefined ? 'magic' : undefined;
    if (length !== undefined && !(await need(length))) fault = 'short';
    if (!fault) {
      const bytes = buf.subarray(pos - bufAt, pos - bufAt + length!);
      try {
        const n = decodeNeedle(bytes);
        closeDamage(pos);
        records.push(recordFor(bytes, pos, n.tombstone));
        pos += length!;
        end = pos;
        continue;
      } catch (err) {
        if (!(err instanceof NeedleError)) throw err;
        fault = err.fault;
        // Rebuilding: a needle whose header and key are sound but whose bytes are not is still
        // indexed, so that reading it reports the damage (and lands it on the repair list)
        // instead of answering that there is no such object.
        // Only when a needle header (or the end) follows it: a damaged length must not carry the scan past sound needles.
        const next = pos + length!;
        const followed =
          next === to ||
          ((await need(length! + NEEDLE_HEADER_BYTES)) && needleLength(buf.subarray(next - bufAt, next - bufAt + NEEDLE_HEADER_BYTES)) !== undefined);
        if (mode === 'resync' && fault === 'checksum' && peekKey(bytes) !== undefined && followed) {
          closeDamage(pos);
          damaged.push({ at: pos, bytes: length!, fault });
          records.push(recordFor(bytes, pos, (bytes[2]! & FLAG_TOMBSTONE) !== 0));
          pos += length!;
          end = pos;
          continue;
        }
      }
    }
    if (mode === 'tail') break;
    badSince ??= { at: pos, fault };
    pos += NEEDLE_ALIGN;
  }
  // Damage with no sound needle after it is a torn tail, which the caller cuts off and counts as one.
  return { records, end, damaged };
}
