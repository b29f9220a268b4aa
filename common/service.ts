/**
 * How every daemon runs: started, then stopped gracefully on SIGTERM or SIGINT within a
 * bounded grace; a second signal, or the grace running out, exits at once.
 */
import type { Logger } from './logger.js';

export interface Service {
  start(): Promise<unknown>;
  /** Finishes or hands back in-flight work, closes listeners and connections. */
  stop(): Promise<void>;
}

export interface RunOptions {
  name: string;
  graceMs: number;
  log: Logger;
  /** For tests: what "exit" means (default process.exit). */
  exit?: (code: number) => void;
}

/** Starts `service` and installs the signal handling; resolves once it has started. */
export async function runService(service: Service, o: RunOptions): Promise<void> {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  await service.start();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      o.log.warn({ signal }, `${o.name}: second signal, exiting now`);
      exit(1);
      return;
    }
    o.log.info({ signal, graceMs: o.graceMs }, `${o.name}: stopping`);
    const timer = setTimeout(() => {
      o.log.error({ graceMs: o.graceMs }, `${o.name}: still stopping when the grace ran out; exiting`);
      exit(1);
    }, o.graceMs);
    service.stop().then(
      () => {
        clearTimeout(timer);
        o.log.info(`${o.name}: stopped`);
        exit(0);
      },
      (err: unknown) => {
        o.log.error({ err }, `${o.name}: stop failed`);
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
