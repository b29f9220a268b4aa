/**
 * Commands (not daemons) have nothing to scrape: they write their registry in
 * Prometheus text format for node_exporter's textfile collector, atomically (the
 * collector must never read half a file).
 */
import type { Registry } from 'prom-client';
import { writeAtomic } from './atomic-write.js';

export async function writeTextfile(registry: Registry, file: string): Promise<void> {
  await writeAtomic(file, Buffer.from(await registry.metrics()));
}
