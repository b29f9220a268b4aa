/** One panel's data for the page: every query run over one time grid, series aligned for uPlot. */
import { legendFor, type PanelDef } from './panels.js';
import type { RangeResult } from './prometheus-api.js';

export interface PanelData {
  id: string;
  /** Unix seconds: the grid every series is on. */
  x: number[];
  series: { name: string; values: (number | null)[] }[];
  /** One message per query that failed (a PromQL error, Prometheus unreachable). */
  errors: string[];
}

export type RangeQuery = (expr: string, start: number, end: number, step: number) => Promise<RangeResult>;

/** At most this many points per series: more than a chart's width in pixels is waste. */
const MAX_POINTS = 240;

export async function panelData(panel: PanelDef, rangeS: number, nowS: number, query: RangeQuery): Promise<PanelData> {
  const step = Math.max(1, Math.ceil(rangeS / MAX_POINTS));
  // On the step's grid, so successive refreshes ask for the same points (Prometheus aligns nothing itself).
  const end = Math.floor(nowS / step) * step;
  const start = end - Math.floor(rangeS / step) * step;
  const x: number[] = [];
  for (let t = start; t <= end; t += step) x.push(t);
  const index = new Map(x.map((t, i) => [t, i]));
  const results = await Promise.all(panel.queries.map((q) => query(q.expr, start, end, step)));
  const out: PanelData = { id: panel.id, x, series: [], errors: [] };
  results.forEach((r, qi) => {
    const q = panel.queries[qi]!;
    if (!r.ok) {
      out.errors.push(`${q.legend.replace(/\{\{[^}]*\}\}\s*/g, '') || `query ${qi + 1}`}: ${r.message}`);
      return;
    }
    for (const s of r.series) {
      const values: (number | null)[] = x.map(() => null);
      for (const [t, v] of s.values) {
        const i = index.get(t);
        if (i !== undefined && Number.isFinite(v)) values[i] = v;
      }
      out.series.push({ name: legendFor(q.legend, s.labels).trim() || q.expr, values });
    }
  });
  out.series.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}
