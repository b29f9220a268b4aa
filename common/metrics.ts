/**
 * Metric definitions are data: one table per component builds that component's
 * registry and generates its README table, so the two cannot drift.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricDef {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  readonly buckets?: readonly number[];
}

type Instance<D extends MetricDef> = D['type'] extends 'counter'
  ? Counter<string>
  : D['type'] extends 'gauge'
    ? Gauge<string>
    : Histogram<string>;

export type Metrics<Defs extends Record<string, MetricDef>> = { [K in keyof Defs]: Instance<Defs[K]> };

/** A fresh registry per instance (never the global one), with Node's process metrics. */
export function createRegistry(defaultLabels?: Record<string, string>): Registry {
  const registry = new Registry();
  if (defaultLabels) registry.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function createMetrics<Defs extends Record<string, MetricDef>>(defs: Defs, registry: Registry): Metrics<Defs> {
  const out: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(defs)) {
    const base = { name: d.name, help: d.help, labelNames: [...(d.labelNames ?? [])], registers: [registry] };
    out[key] =
      d.type === 'counter'
        ? new Counter(base)
        : d.type === 'gauge'
          ? new Gauge(base)
          : new Histogram({ ...base, buckets: [...(d.buckets ?? [])] });
  }
  return out as Metrics<Defs>;
}

export function metricsMarkdown(defs: Record<string, MetricDef>): string {
  const rows = Object.values(defs).map(
    (d) => `| \`${d.name}\` | ${d.type} | ${(d.labelNames ?? []).map((l) => `\`${l}\``).join(', ')} | ${d.help} |`,
  );
  return ['| metric | type | labels | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/**
 * A counter for paths taken hundreds of thousands of times a second: adds to a plain
 * number, and hands the total to prom-client (whose `inc` hashes labels on every call)
 * when `flush` runs, just before each scrape.
 */
export class Tally {
  private pending = 0;

  constructor(private readonly target: { inc(n: number): void }) {}

  add(n = 1): void {
    this.pending += n;
  }

  flush(): void {
    if (this.pending === 0) return;
    this.target.inc(this.pending);
    this.pending = 0;
  }
}

/** A counter that follows a running total kept elsewhere (a native engine's): `set` hands prom-client the growth. */
export class CounterMirror {
  private last = 0;

  constructor(private readonly target: { inc(n: number): void }) {}

  set(total: number): void {
    if (total > this.last) this.target.inc(total - this.last);
    this.last = total;
  }
}
