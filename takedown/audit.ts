/**
 * `hearth takedown status`: what became of one photo taken down, from Hearth's own
 * records: the verdict in the store (when it was deleted, by whom), the takedown and
 * each colo's purge passes from Kafka, and when each colo last served any byte of the
 * photo, from its cache nodes' access logs. "Served after its purge" is what a takedown
 * must never show.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Kafka } from 'kafkajs';
import { readSecrets, readVerdict, servedPaths, type Verdict } from '../image/index.js';
import { TOPICS, purgedValidator, takedownValidator, type Purged, type Takedown } from '../kafka/index.js';
import type { ObjectStore } from '../store/index.js';
import { parseCacheLogLine } from '../topology/index.js';

export interface ColoAudit {
  colo: string;
  /** When the colo's first pass ended (epoch ms), and how many cache entries (a path in one format class, on one node) it found. */
  purged: { ts: number; cached: number } | null;
  /** The second pass (after the longest upstream fetch). */
  repurged: { ts: number; cached: number } | null;
  /** When a node of the colo last sent any byte of the photo (status 200/206, a body), epoch ms; null: never in these logs. */
  lastServed: number | null;
  /** Bytes-carrying answers that ended after the first pass. */
  servedAfterPurge: number;
}

export interface TakedownAudit {
  id: string;
  verdict: Verdict | null;
  takedown: Takedown | null;
  colos: ColoAudit[];
  /** The last colo's first pass, from the takedown: the takedown's reach (ms). */
  purgeMs: number | null;
}

/** Every message of `topic` keyed `id`, read from the beginning up to the end as it was when asked. */
async function messagesFor(kafka: Kafka, topic: string, id: string): Promise<unknown[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; high: string; low: string }[];
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    ends = (await admin.fetchTopicOffsets(topic)).filter((e) => BigInt(e.high) > BigInt(e.low));
  } finally {
    await admin.disconnect();
  }
  if (ends.length === 0) return [];
  const pending = new Map(ends.map((e) => [e.partition, BigInt(e.high) - 1n]));
  const out: unknown[] = [];
  const consumer = kafka.consumer({ groupId: `hearth-audit-${process.pid}-${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: ({ partition, message }) => {
            if (message.key?.toString('utf8') === id && message.value) {
              try {
                out.push(JSON.parse(message.value.toString('utf8')));
              } catch {
                // not a record: the audit reports what parses
              }
            }
            const until = pending.get(partition);
            if (until !== undefined && BigInt(message.offset) >= until) pending.delete(partition);
            if (pending.size === 0) resolve();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Per colo, when a cache node last sent bytes of one of `paths`, and how often after `after`(per colo). */
async function servedFrom(
  logs: readonly string[],
  paths: ReadonlySet<string>,
  after: (colo: string) => number | undefined,
): Promise<Map<string, { last: number; afterPurge: number }>> {
  const out = new Map<string, { last: number; afterPurge: number }>();
  for (const file of logs) {
    if (!existsSync(file)) continue;
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.includes('"uri"')) continue;
      const l = parseCacheLogLine(line);
      if (typeof l === 'string' || !paths.has(l.uri) || (l.status !== 200 && l.status !== 206) || l.bytes === 0) continue;
      const ms = Math.round(l.msec * 1000);
      const seen = out.get(l.colo) ?? { last: 0, afterPurge: 0 };
      seen.last = Math.max(seen.last, ms);
      const purged = after(l.colo);
      if (purged !== undefined && ms > purged) seen.afterPurge++;
      out.set(l.colo, seen);
    }
  }
  return out;
}

export async function auditTakedown(o: {
  id: string;
  store: ObjectStore;
  kafka: Kafka;
  colos: readonly string[];
  logs: readonly string[];
}): Promise<TakedownAudit> {
  const [verdict, takedowns, purges] = await Promise.all([
    readVerdict(o.store, o.id),
    messagesFor(o.kafka, TOPICS.takedown, o.id),
    messagesFor(o.kafka, TOPICS.purged, o.id),
  ]);
  // A refresh (a size recompressed in place) takes nothing down: the audit is of the last delete or quarantine.
  const takedown = takedowns.filter((t): t is Takedown => takedownValidator.is(t) && t.action !== 'refresh').at(-1) ?? null;
  // Only the passes that answer the last takedown (a photo quarantined, lifted and deleted has several).
  const passes = purges.filter((p): p is Purged => purgedValidator.is(p) && (takedown === null || p.takedownTs === takedown.ts));
  const pass = (colo: string, n: 1 | 2) => {
    const p = passes.filter((x) => x.colo === colo && x.pass === n).sort((a, b) => a.ts - b.ts)[0];
    return p ? { ts: p.ts, cached: p.cached } : null;
  };
  const colos = [...new Set([...o.colos, ...passes.map((p) => p.colo)])];
  const served = await servedFrom(o.logs, new Set(servedPaths(o.id, await readSecrets(o.store, o.id))), (c) => pass(c, 1)?.ts);
  const audits = colos.map((colo): ColoAudit => ({
    colo,
    purged: pass(colo, 1),
    repurged: pass(colo, 2),
    lastServed: served.get(colo)?.last ?? null,
    servedAfterPurge: served.get(colo)?.afterPurge ?? 0,
  }));
  const firsts = audits.map((a) => a.purged?.ts);
  const purgeMs = takedown && firsts.length > 0 && firsts.every((t) => t !== undefined) ? Math.max(...firsts) - takedown.ts : null;
  return { id: o.id, verdict: verdict ?? null, takedown, colos: audits, purgeMs };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The audit as a line for people. */
export function formatAudit(a: TakedownAudit): string {
  const v = a.verdict;
  const head =
    v?.verdict === 'deleted'
      ? `${a.id}: deleted ${v.at} by ${v.by}`
      : v?.verdict === 'quarantined'
        ? `${a.id}: quarantined ${v.at} (blocklisted ${v.listed.slice(0, 12)}…, distance ${v.distance})`
        : `${a.id}: not taken down${v ? ` (verdict ${v.verdict})` : ''}`;
  const ack = a.takedown ? `; takedown acknowledged ${iso(a.takedown.ts)}` : '; no takedown announced';
  const colos = a.colos.map((c) => {
    const rel = (ms: number) => (a.takedown ? `+${ms - a.takedown.ts} ms` : iso(ms));
    const purged = c.purged ? `purged ${rel(c.purged.ts)} (${c.purged.cached} cached)` : 'NOT PURGED';
    const again = c.repurged ? `, again ${rel(c.repurged.ts)}` : '';
    const last = c.lastServed === null ? 'never served in these logs' : `last served ${iso(c.lastServed)}`;
    const after = c.servedAfterPurge > 0 ? `, SERVED ${c.servedAfterPurge}× AFTER ITS PURGE` : '';
    return `${c.colo}: ${purged}${again}, ${last}${after}`;
  });
  const reach = a.purgeMs === null ? '' : `; every colo purged within ${a.purgeMs} ms`;
  return `${head}${ack}${reach}\n${colos.map((l) => `  ${l}`).join('\n')}\n`;
}
