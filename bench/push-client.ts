/**
 * What one push costs the warmer's HTTP client, with no warmer logic: HEADs from one
 * process to a trivial nginx (answering at once) as fast as a fixed number in flight
 * allows, through undici's `request()` (what the warmer used) and `dispatch()` with a
 * handler object (what it uses now), at several connection counts and pipelining
 * depths. Part of `npm run bench -- push`; its rows say where a push's time goes.
 */
import { Pool, type Dispatcher } from 'undici';

export interface ClientRow {
  api: 'request' | 'dispatch';
  connections: number;
  pipelining: number;
  per_s: number;
}

class Counter implements Dispatcher.DispatchHandler {
  constructor(private readonly next: () => void) {}
  onConnect(): void {}
  onHeaders(): boolean {
    return true;
  }
  onData(): boolean {
    return true;
  }
  onComplete(): void {
    this.next();
  }
  onError(): void {
    this.next();
  }
}

/** Keeps `inFlight` requests going for `ms`; returns completions per second. */
export async function clientRate(address: string, api: ClientRow['api'], connections: number, pipelining: number, ms: number): Promise<number> {
  const pool = new Pool(`http://${address}`, { connections, pipelining, keepAliveTimeout: 60_000 });
  const inFlight = connections * pipelining;
  const opts: Dispatcher.DispatchOptions = { method: 'HEAD', path: '/photos/1/1_z.jpg', headers: { host: 'cache-sin.hearth.local' }, reset: false };
  let done = 0;
  let stop = false;
  await new Promise<void>((resolve) => {
    let running = inFlight;
    const finish = (): void => {
      if (--running === 0) resolve();
    };
    const one = (): void => {
      if (stop) return finish();
      if (api === 'dispatch') {
        pool.dispatch(
          opts,
          new Counter(() => {
            done++;
            one();
          }),
        );
      } else {
        pool.request(opts).then(
          async (r) => {
            await r.body.dump();
            done++;
            one();
          },
          () => {
            done++;
            one();
          },
        );
      }
    };
    for (let i = 0; i < inFlight; i++) one();
    setTimeout(() => (stop = true), ms);
  });
  await pool.close();
  return Math.round((done * 1000) / ms);
}
