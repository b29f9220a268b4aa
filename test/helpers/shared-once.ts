/**
 * Something costly (a stack, a broker) started by the first test that asks for it and
 * shared by the rest, then stopped once by the root hooks, pass or fail.
 */
export interface SharedOnce<T> {
  get(): Promise<T>;
  /** Stops it if it was started (a failed start is not stopped again). */
  stop(): Promise<void>;
}

export function sharedOnce<T>(start: () => Promise<T>, stop: (t: T) => Promise<void>): SharedOnce<T> {
  let shared: Promise<T> | undefined;
  return {
    get: () => (shared ??= start()),
    async stop() {
      if (!shared) return;
      const t = await shared.catch(() => undefined);
      shared = undefined;
      if (t !== undefined) await stop(t);
    },
  };
}
