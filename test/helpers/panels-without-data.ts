import type { PanelDef } from '../../dashboard/panels.js';
import { queryRange } from '../../dashboard/prometheus-api.js';
import { until } from './until.js';

/**
 * Every query of `panels` asked of a live Prometheus over the last 15 minutes, until each
 * returns data or two minutes pass: what still fails (`panel (legend): why`), for the
 * test to assert empty.
 */
export async function panelsWithoutData(prom: string, panels: readonly PanelDef[], withinMs = 120_000): Promise<string[]> {
  const missing = async (): Promise<string[]> => {
    const now = Math.floor(Date.now() / 1000);
    const out: string[] = [];
    for (const panel of panels) {
      for (const q of panel.queries) {
        const r = await queryRange(prom, q.expr, now - 900, now, 5, 10_000);
        if (!r.ok) out.push(`${panel.id} (${q.legend}): ${r.message}`);
        else if (!r.series.some((s) => s.values.some(([, v]) => Number.isFinite(v)))) out.push(`${panel.id} (${q.legend}): no data`);
      }
    }
    return out;
  };
  let last: string[] = [];
  await until('every query with data', async () => ((last = await missing()).length === 0 ? true : undefined), withinMs).catch(() => undefined);
  return last;
}
