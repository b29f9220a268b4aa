/**
 * Objects found damaged are reported for repair in one list per store: one JSON line per
 * finding (appends of one short line are atomic, so the origin, a scrub and the store
 * service can all write). Every driver keeps it (`ObjectStore.reportDamage`): a
 * directory store in `<root>/.hearth-damaged.jsonl`, the volumes engine beside its
 * volumes, a store service in its own. Restoring an object from a replica or backup is
 * the operator's step; this list says which.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../common/index.js';

export const damageReportFile = (dir: string): string => join(dir, '.hearth-damaged.jsonl');

export interface DamageFinding {
  /** Store path of the damaged object, e.g. `/originals/5000/500001.jxl`. */
  path: string;
  reason: string;
  /** Who found it: `origin`, `scrub`, `store`. */
  by: string;
  error: string;
}

/** A finding as the list takes it: four strings, bounded, so no report can grow the list by more than a line. */
export function checkFinding(f: unknown): DamageFinding {
  const o = f as Partial<Record<keyof DamageFinding, unknown>> | null;
  const fields = ['path', 'reason', 'by', 'error'] as const;
  if (typeof o !== 'object' || o === null || !fields.every((k) => typeof o[k] === 'string'))
    throw new HearthError('HEARTH_ERR_INVALID', 'a damage finding is {path, reason, by, error}, all strings');
  return {
    path: (o.path as string).slice(0, 512),
    reason: (o.reason as string).slice(0, 64),
    by: (o.by as string).slice(0, 64),
    error: (o.error as string).slice(0, 1024),
  };
}

export async function appendDamage(dir: string, f: DamageFinding): Promise<void> {
  await appendFile(damageReportFile(dir), `${JSON.stringify({ ts: new Date().toISOString(), ...checkFinding(f) })}\n`, { mode: 0o644 });
}
