/**
 * Follows growing log files line by line (npm `tail`, polling, which survives
 * truncation and rotation by rename). A file that is not there yet, or goes away, is
 * waited for and followed again from its start.
 */
import { Tail } from 'tail';

export interface FollowOptions {
  fromStart: boolean;
  pollMs: number;
  onLine(line: string, file: string): void;
  onError(err: unknown, file: string): void;
}

export class LogFollower {
  private tail: Tail | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly file: string,
    private readonly o: FollowOptions,
  ) {}

  /** Whether the file is open and followed now. */
  get following(): boolean {
    return this.tail !== undefined;
  }

  start(fromStart = this.o.fromStart): void {
    if (this.stopped) return;
    try {
      const tail = new Tail(this.file, { fromBeginning: fromStart, follow: true, useWatchFile: true, fsWatchOptions: { interval: this.o.pollMs } });
      tail.on('line', (line: string) => this.o.onLine(line, this.file));
      tail.on('error', (err: unknown) => {
        this.o.onError(err, this.file);
        this.reopenLater();
      });
      this.tail = tail;
    } catch (err) {
      this.o.onError(err, this.file);
      this.reopenLater();
    }
  }

  /** Anything written after the file came back is new: read it whole. */
  private reopenLater(): void {
    this.tail?.unwatch();
    this.tail = undefined;
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.start(true);
    }, Math.max(this.o.pollMs, 1000));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.tail?.unwatch();
    this.tail = undefined;
  }
}
