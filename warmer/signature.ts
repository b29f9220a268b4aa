import { createHmac, timingSafeEqual } from 'node:crypto';
import { SIG_CHARS, SIG_MEMBER } from '@hearth/api-hook';

const SIG_TAIL = SIG_MEMBER.length + SIG_CHARS + 2; // ,"sig":"…"}
const MEMBER = Buffer.from(SIG_MEMBER);
const CLOSE = Buffer.from('}');

export type SignatureVerdict = 'ok' | 'unsigned' | 'unknown_key' | 'misplaced' | 'mismatch';

/**
 * Verifies the HMAC of a schema-valid hint against its datagram's exact bytes.
 * Several keys may be live at once so senders can rotate without a flag day.
 */
export class SignatureVerifier {
  private readonly keys: Map<string, Buffer>;
  private readonly index: Map<string, number>;

  constructor(keys: Record<string, string>) {
    this.keys = new Map(Object.entries(keys).map(([id, secret]) => [id, Buffer.from(secret)]));
    this.index = new Map([...this.keys.keys()].map((id, i) => [id, i]));
  }

  /** The secrets in the order a native verdict indexes them. */
  get secrets(): Buffer[] {
    return [...this.keys.values()];
  }

  get required(): boolean {
    return this.keys.size > 0;
  }

  /**
   * `signedBy`, where the hint socket is the native engine's: which of `secrets` signed the
   * bytes where api-hook puts the signature (its index, or -1 for none), computed off the
   * event loop. Without it (or with an index no key has) this code checks.
   */
  verify(buf: Buffer, kid: string | undefined, sig: string | undefined, signedBy?: number): SignatureVerdict {
    if (kid === undefined || sig === undefined) return 'unsigned';
    const key = this.keys.get(kid);
    if (!key) return 'unknown_key';
    if (signedBy !== undefined && signedBy >= -1 && signedBy < this.keys.size) return signedBy === this.index.get(kid) ? 'ok' : 'mismatch';
    // `sig` must be the last member, written exactly as api-hook writes it.
    const at = buf.length - SIG_TAIL;
    if (at <= 0 || !buf.subarray(at, at + MEMBER.length).equals(MEMBER) || buf[buf.length - 1] !== 0x7d) return 'misplaced';
    const expected = createHmac('sha256', key).update(buf.subarray(0, at)).update(CLOSE).digest();
    const given = Buffer.from(sig, 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected) ? 'ok' : 'mismatch';
  }
}
