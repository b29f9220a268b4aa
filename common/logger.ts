import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** `toStderr` for commands whose stdout is their result (one JSON line per file, say). */
export function createLogger(component: string, level: LevelWithSilent = 'info', toStderr = false): Logger {
  const options = { level, base: { component, pid: process.pid } };
  return toStderr ? pino(options, pino.destination(2)) : pino(options);
}

/**
 * Admits at most `perSecond` events per key each second and counts the rest, so a
 * flood of bad datagrams cannot flood the log. The suppressed count is reported
 * with the next admitted event of the same key.
 */
export class LogSampler {
  private readonly windows = new Map<string, { start: number; admitted: number; suppressed: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    /** Keys are program constants (drop reasons), but bound the map anyway. */
    private readonly maxKeys = 64,
  ) {}

  /** Returns undefined when the event should not be logged, else how many were suppressed before it. */
  admit(key: string): number | undefined {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w) {
      if (this.windows.size >= this.maxKeys) return undefined;
      w = { start: t, admitted: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (t - w.start >= 1000) {
      w.start = t;
      w.admitted = 0;
    }
    if (w.admitted >= this.perSecond) {
      w.suppressed++;
      return undefined;
    }
    w.admitted++;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    return suppressed;
  }
}
