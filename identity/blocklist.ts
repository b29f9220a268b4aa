/**
 * The configured hash list (as Cloudflare's tool serves one): PDQ hashes, 64 hex digits
 * a line, `#` starting a comment, blank lines ignored. An upload whose PDQ is within
 * the quarantine threshold of any of them is quarantined.
 *
 * The file is read again when it changes (checked at most once a second), so a list
 * can be updated without a restart. A file that does not parse is never half-applied:
 * at start it is an error naming every bad line; later the list in force stays and the
 * failure is counted and logged.
 */
import { stat, readFile } from 'node:fs/promises';
import { ValidationError } from '../common/index.js';
import { HammingIndex, type HammingMatch } from './hamming-index.js';

const HEX = /^[0-9a-fA-F]{64}$/;
const CHECK_EVERY_MS = 1000;

/** The hashes of a blocklist file's text, or a ValidationError naming every bad line. */
export function parseBlocklist(text: string, file: string): Buffer[] {
  const hashes: Buffer[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    if (HEX.test(line)) hashes.push(Buffer.from(line.toLowerCase(), 'hex'));
    else problems.push(`line ${i + 1}: not a PDQ hash (64 hex digits): ${JSON.stringify(line.slice(0, 80))}`);
  });
  if (problems.length > 0) throw new ValidationError(`blocklist ${file}`, problems);
  return hashes;
}

export class Blocklist {
  private index = new HammingIndex([]);
  private hashes: Buffer[] = [];
  private seen = '';
  private checkedAt = 0;

  constructor(
    private readonly file: string | undefined,
    private readonly onReloadFailed: (err: Error) => void = () => {},
  ) {}

  get size(): number {
    return this.hashes.length;
  }

  /** The hashes in force, as hex. */
  get listed(): string[] {
    return this.hashes.map((h) => h.toString('hex'));
  }

  /** Reads the file; throws when it is missing or does not parse (at start, that is fatal). */
  async load(): Promise<void> {
    if (!this.file) return;
    const st = await stat(this.file);
    this.apply(parseBlocklist(await readFile(this.file, 'utf8'), this.file), `${st.mtimeMs}:${st.size}`);
  }

  /** Reads the file again if it changed since; a bad new version leaves the old list in force. */
  async refresh(now = Date.now()): Promise<void> {
    if (!this.file || now - this.checkedAt < CHECK_EVERY_MS) return;
    this.checkedAt = now;
    try {
      const st = await stat(this.file);
      const version = `${st.mtimeMs}:${st.size}`;
      if (version === this.seen) return;
      this.apply(parseBlocklist(await readFile(this.file, 'utf8'), this.file), version);
    } catch (err) {
      this.onReloadFailed(err as Error);
    }
  }

  private apply(hashes: Buffer[], version: string): void {
    this.hashes = hashes;
    this.index = new HammingIndex(hashes);
    this.seen = version;
  }

  /** The nearest listed hash within `threshold` of `pdq`, if any. */
  match(pdq: Buffer, threshold: number): { listed: string; distance: number } | undefined {
    const best: HammingMatch | undefined = this.index.search(pdq, threshold)[0];
    return best && { listed: (this.hashes[best.index] as Buffer).toString('hex'), distance: best.distance };
  }
}
