/**
 * Files found damaged are reported for repair in one place per store,
 * `<store>/.hearth-damaged.jsonl`: one JSON line per finding (appends of one short
 * line are atomic, so the origin and a scrub can both write). Restoring a file from a
 * replica or backup is the operator's step; this list says which.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';

export const damageReportFile = (store: string): string => join(store, '.hearth-damaged.jsonl');

export interface DamageFinding {
  /** Store path of the damaged file, e.g. `/originals/5000/500001.jxl`. */
  path: string;
  reason: string;
  /** Who found it: `origin`, `scrub`. */
  by: string;
  error: string;
}

export async function reportDamage(store: string, f: DamageFinding): Promise<void> {
  await appendFile(damageReportFile(store), `${JSON.stringify({ ts: new Date().toISOString(), ...f })}\n`, { mode: 0o644 });
}
