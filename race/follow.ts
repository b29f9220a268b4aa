/**
 * Follows growing log files line by line, by polling from a cursor: each turn reads
 * whatever lies between the cursor and the file's end, so no line is skipped however it
 * races the start. A truncated file is read again from its start; a file rotated by
 * rename is read to its end, then the new one from its start; a file that is not there
 * yet, or goes away, is waited for and followed from its start.
 *
 * Written here rather than with npm `tail`: in its polling mode that library reads each
 * change from the previous poll's size, not from its cursor, so lines written between
 * its start and its first poll were never read (the race join lost a push that way).
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export interface FollowOptions {
  fromStart: boolean;
  pollMs: number;
  onLine(line: string, file: string): void;
  onError(err: unknown, file: string): void;
}

/** The most read in one go: a large backlog is read in turns, never held whole. */
const CHUNK = 1 << 20;

export class LogFollower {
  private fd: number | undefined;
  private ino = 0;
  private pos = 0;
  /** The end of the last read, up to a newline still to come. */
  private partial = '';
  /** A character cut by a read's end waits for its other bytes. */
  private decoder = new StringDecoder('utf8');
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Said once per absence, not every turn. */
  private missingSaid = false;

  constructor(
    readonly file: string,
    private readonly o: FollowOptions,
  ) {}

  /** Whether the file is open and followed now. */
  get following(): boolean {
    return this.fd !== undefined;
  }

  start(fromStart = this.o.fromStart): void {
    if (this.stopped) return;
    this.open(fromStart);
    this.schedule();
  }

  private open(fromStart: boolean): void {
    try {
      const fd = openSync(this.file, 'r');
      const st = fstatSync(fd);
      this.fd = fd;
      this.ino = st.ino;
      this.pos = fromStart ? 0 : st.size;
      this.partial = '';
      this.decoder = new StringDecoder('utf8');
      this.missingSaid = false;
    } catch (err) {
      if (!this.missingSaid) this.o.onError(err, this.file);
      this.missingSaid = true;
    }
  }

  private schedule(): void {
    if (!this.stopped) this.timer = setTimeout(() => this.turn(), this.o.pollMs);
  }

  private turn(): void {
    try {
      if (this.fd === undefined) {
        // Back after being away (or there at last): everything in it is new.
        this.open(true);
        if (this.fd !== undefined) this.read();
        return;
      }
      let st;
      try {
        st = statSync(this.file);
      } catch (err) {
        // Gone (rotated away and no new one yet): what was written before it went is still read.
        this.read();
        this.close();
        this.o.onError(err, this.file);
        this.missingSaid = true;
        return;
      }
      if (st.ino !== this.ino) {
        this.read();
        this.close();
        this.open(true);
      } else if (st.size < this.pos) {
        this.pos = 0;
        this.partial = '';
        this.decoder = new StringDecoder('utf8');
      }
      if (this.fd !== undefined) this.read();
    } catch (err) {
      this.o.onError(err, this.file);
      this.close();
    } finally {
      this.schedule();
    }
  }

  /** From the cursor to the end of the open file, a line at a time. */
  private read(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, this.pos);
      if (n === 0) return;
      this.pos += n;
      const lines = (this.partial + this.decoder.write(buf.subarray(0, n))).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) if (line !== '') this.o.onLine(line, this.file);
      if (this.stopped) return;
    }
  }

  private close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.partial = '';
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.close();
  }
}
