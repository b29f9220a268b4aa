/** The dashboard's config. */
import { Type, type Static } from '@sinclair/typebox';
import { Validator, httpSection, loadConfig, logSection, shutdownGraceMs } from '../common/index.js';

export const DashboardConfigSchema = Type.Object(
  {
    http: httpSection(9460, 'the page, its data, and /metrics, /healthz and /readyz'),
    prometheus: Type.String({
      pattern: '^https?://[^/]+/?$',
      default: 'http://127.0.0.1:9090',
      description: "Prometheus's base URL (its HTTP API is queried by the dashboard, never by the browser)",
    }),
    queryTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 120_000,
      default: 5000,
      description: 'a query Prometheus has not answered by then shows as an error on its panel',
    }),
    rangeS: Type.Integer({ minimum: 60, maximum: 7 * 86_400, default: 900, description: 'time range the page shows first' }),
    refreshS: Type.Integer({ minimum: 1, maximum: 3600, default: 5, description: 'how often the page redraws' }),
    log: logSection(),
    shutdownGraceMs: shutdownGraceMs(),
  },
  { additionalProperties: false },
);
export type DashboardConfig = Static<typeof DashboardConfigSchema>;

const validator = new Validator(DashboardConfigSchema, 'dashboard config');

export function loadDashboardConfig(file?: string, overrides: Record<string, unknown> = {}): DashboardConfig {
  return loadConfig({ what: 'dashboard config', validator, file, overrides });
}
