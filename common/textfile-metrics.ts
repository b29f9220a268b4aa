/**
 * Commands (not daemons) have nothing to scrape: they write their registry in
 * Prometheus text format for node_exporter's textfile collector, atomically (the
 * collector must never read half a file).
 */
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { writeAtomic } from './atomic-write.js';

export async function writeTextfile(registry: Registry, file: string): Promise<void> {
  await writeAtomic(file, Buffer.from(await registry.metrics()));
}

/**
 * Runs `work` while `write` puts the metrics into `file` every 10 s (a failed write is
 * logged: the batch goes on) and once more at the end, whatever happened. No file: just `work`.
 */
export async function withTextfile<T>(file: string | undefined, write: (file: string) => Promise<void>, log: Logger, work: () => Promise<T>): Promise<T> {
  if (!file) return work();
  const timer = setInterval(() => void write(file).catch((err: Error) => log.warn({ err }, 'cannot write the metrics file')), 10_000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await write(file);
  }
}
