/**
 * How the cache nodes' access logs become metrics: Debian's mtail running Hearth's
 * program (monitoring/mtail/hearth-cache.mtail) over every node's log.
 */
import { fileURLToPath } from 'node:url';
import { splitAddress } from '../topology/index.js';

/** The directory of Hearth's mtail programs. */
export const MTAIL_PROGRAMS = fileURLToPath(new URL('../../monitoring/mtail', import.meta.url));

/** mtail's arguments: these logs, Hearth's programs, metrics at `listen` (loopback, never mtail's default of every address). */
export function mtailArgs(listen: string, logs: readonly string[]): string[] {
  const { host, port } = splitAddress(listen);
  return ['--progs', MTAIL_PROGRAMS, '--logs', logs.join(','), '--address', host, '--port', String(port), '--emit_prog_label=false', '--logtostderr'];
}
