/**
 * Metric definitions are data: one table per component builds that component's
 * registry and generates its README table, so the two cannot drift.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

export interface MetricDef {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  readonly buckets?: readonly number[];
  /** A histogram observed tens of thousands of times a second: a HotHistogram instead of prom-client's. */
  readonly hot?: boolean;
}

type Instance<D extends MetricDef> = D['type'] extends 'counter'
  ? Counter<string>
  : D['type'] extends 'gauge'
    ? Gauge<string>
    : D extends { hot: true }
      ? HotHistogram
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
    // Several users of one registry (a daemon with a consumer per colo) share a definition's metric.
    const existing = registry.getSingleMetric(d.name);
    if (existing && !d.hot) {
      out[key] = existing;
      continue;
    }
    const base = { name: d.name, help: d.help, labelNames: [...(d.labelNames ?? [])], registers: [registry] };
    out[key] =
      d.type === 'counter'
        ? new Counter(base)
        : d.type === 'gauge'
          ? new Gauge(base)
          : d.hot
            ? new HotHistogram(d, registry)
            : new Histogram({ ...base, buckets: [...(d.buckets ?? [])] });
  }
  return out as Metrics<Defs>;
}

export function metricsMarkdown(defs: Record<string, MetricDef>): string {
  const rows = Object.values(defs).map((d) => `| \`${d.name}\` | ${d.type} | ${(d.labelNames ?? []).map((l) => `\`${l}\``).join(', ')} | ${d.help} |`);
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

/** One label set of a HotHistogram: plain counts per bucket. */
export class HotHistogramChild {
  /** Per bucket (not cumulative), the last one +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Record<string, string>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += v;
    this.count++;
  }
}

/**
 * A histogram for paths taken tens of thousands of times a second. prom-client's
 * `observe` builds and hashes a label object and validates on every call (~0.5 µs,
 * a tenth of the warmer's work on a 1-path hint); this one adds to a plain count and
 * renders prom-client's own exposition shape when the registry is scraped.
 */
export class HotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  private readonly labelNames: readonly string[];
  private readonly children = new Map<string, HotHistogramChild>();
  private readonly unlabelled: HotHistogramChild | undefined;

  constructor(d: MetricDef, registry: Registry) {
    this.name = d.name;
    this.help = d.help;
    this.bounds = [...(d.buckets ?? [])].sort((a, b) => a - b);
    this.labelNames = d.labelNames ?? [];
    // Like prom-client: an unlabelled histogram exists at 0 from the start.
    if (this.labelNames.length === 0) {
      this.unlabelled = new HotHistogramChild(this.bounds, {});
      this.children.set('', this.unlabelled);
    }
    registry.registerMetric(this as unknown as Metric);
  }

  /** The child for these label values, in labelNames order; resolve it once, observe it often. */
  labels(...values: string[]): HotHistogramChild {
    if (values.length !== this.labelNames.length) throw new TypeError(`${this.name}: expected labels ${this.labelNames.join(', ')}`);
    const key = values.join('\u0000');
    let c = this.children.get(key);
    if (!c) {
      c = new HotHistogramChild(this.bounds, Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] as string])));
      this.children.set(key, c);
    }
    return c;
  }

  observe(v: number): void {
    if (!this.unlabelled) throw new TypeError(`${this.name}: needs labels ${this.labelNames.join(', ')}`);
    this.unlabelled.observe(v);
  }

  /** As prom-client's reset (Registry.resetMetrics): every count back to 0. */
  reset(): void {
    for (const c of this.children.values()) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }

  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  } {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const c of this.children.values()) {
      let cum = 0;
      this.bounds.forEach((b, i) => {
        cum += c.counts[i] as number;
        values.push({ labels: { le: b, ...c.labels }, value: cum, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...c.labels }, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...c.labels }, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
