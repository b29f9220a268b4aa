import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { configMarkdown, errorCodesMarkdown, spliceDocs, metricsMarkdown } from '../../common/index.js';
import { WarmerConfigSchema, WARMER_METRICS, loadWarmerConfig, perColoConcurrency } from '../../warmer/index.js';
import { ResizeConfigSchema, RESIZE_METRICS } from '../../resize/index.js';
import { BackfillConfigSchema } from '../../backfill/index.js';
import { UploadConfigSchema } from '../../upload/index.js';
import { CompressConfigSchema, COMPRESS_METRICS, LosslessConfigSchema, ScrubConfigSchema, LOSSLESS_METRICS, SCRUB_METRICS } from '../../compress/index.js';
import { ORIGIN_METRICS, OriginConfigSchema } from '../../origin/index.js';
import { TASTE_TEST_METRICS, TasteTestConfigSchema } from '../../taste-test/index.js';
import { RACE_METRICS, RaceConfigSchema } from '../../race/index.js';
import { DASHBOARD_METRICS, DashboardConfigSchema, grafanaDashboard } from '../../dashboard/index.js';
import { CACHE_LOG_METRICS } from '../../monitoring/index.js';
import { IDENTITY_METRICS, IdentityConfigSchema } from '../../identity/index.js';
import { KAFKA_CONSUMER_METRICS } from '../../kafka/index.js';
import { REPORT_METRICS, STORE_METRICS, StoreServerConfigSchema, VERIFY_METRICS } from '../../store-server/index.js';
import { DeleteConfigSchema, PURGER_METRICS, PurgerConfigSchema, TAKEDOWN_WORKER_METRICS, TakedownWorkerConfigSchema } from '../../takedown/index.js';

/** The default push concurrency as the schema holds it: written in one place, the schema. */
function pushConcurrencyLine(): string {
  const c = loadWarmerConfig();
  return `\`push.concurrency\` = **${c.push.concurrency}** (per colo, unless \`push.perColoConcurrency\` says otherwise: ${perColoConcurrency(c)})`;
}

/** Every generated README section, by marker name. */
export function renderDocs(): Record<string, string> {
  return {
    'warmer-config': configMarkdown(WarmerConfigSchema),
    'warmer-metrics': metricsMarkdown(WARMER_METRICS),
    'warmer-push-concurrency': pushConcurrencyLine(),
    'resize-config': configMarkdown(ResizeConfigSchema),
    'resize-metrics': metricsMarkdown(RESIZE_METRICS),
    'compress-config': configMarkdown(CompressConfigSchema),
    'compress-metrics': metricsMarkdown(COMPRESS_METRICS),
    'lossless-metrics': metricsMarkdown(LOSSLESS_METRICS),
    'scrub-metrics': metricsMarkdown(SCRUB_METRICS),
    'origin-metrics': metricsMarkdown(ORIGIN_METRICS),
    'origin-config': configMarkdown(OriginConfigSchema),
    'backfill-config': configMarkdown(BackfillConfigSchema),
    'upload-config': configMarkdown(UploadConfigSchema),
    'lossless-config': configMarkdown(LosslessConfigSchema),
    'scrub-config': configMarkdown(ScrubConfigSchema),
    'taste-test-config': configMarkdown(TasteTestConfigSchema),
    'taste-test-metrics': metricsMarkdown(TASTE_TEST_METRICS),
    'cache-log-metrics': metricsMarkdown(CACHE_LOG_METRICS),
    'race-config': configMarkdown(RaceConfigSchema),
    'race-metrics': metricsMarkdown(RACE_METRICS),
    'dashboard-config': configMarkdown(DashboardConfigSchema),
    'dashboard-metrics': metricsMarkdown(DASHBOARD_METRICS),
    'identity-config': configMarkdown(IdentityConfigSchema),
    'identity-metrics': metricsMarkdown(IDENTITY_METRICS),
    'kafka-consumer-metrics': metricsMarkdown(KAFKA_CONSUMER_METRICS),
    'store-config': configMarkdown(StoreServerConfigSchema),
    'error-codes': errorCodesMarkdown(),
    'store-metrics': metricsMarkdown(STORE_METRICS),
    'store-verify-metrics': metricsMarkdown(VERIFY_METRICS),
    'store-report-metrics': metricsMarkdown(REPORT_METRICS),
    'purger-config': configMarkdown(PurgerConfigSchema),
    'purger-metrics': metricsMarkdown(PURGER_METRICS),
    'delete-config': configMarkdown(DeleteConfigSchema),
    'takedown-worker-config': configMarkdown(TakedownWorkerConfigSchema),
    'takedown-worker-metrics': metricsMarkdown(TAKEDOWN_WORKER_METRICS),
  };
}

/** Whole files made from definitions in the code, by repo-relative path. */
export function generatedFiles(): Record<string, string> {
  return { 'monitoring/grafana/hearth-dashboard.json': `${JSON.stringify(grafanaDashboard(), null, 2)}\n` };
}

/** The files that hold generated sections: the README and every page under docs/. */
export function docFiles(repo = '.'): string[] {
  const dir = join(repo, 'docs');
  return [
    join(repo, 'README.md'),
    ...readdirSync(dir)
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => join(dir, f)),
  ];
}

/** Each file as it should be, with every section it holds regenerated. */
export function regenerated(files: readonly string[]): Map<string, { text: string; next: string }> {
  const sections = renderDocs();
  return new Map(
    files.map((f) => {
      const text = readFileSync(f, 'utf8');
      return [f, { text, next: spliceDocs(text, sections) }];
    }),
  );
}

export function registerDocs(program: Command): void {
  program
    .command('docs')
    .description('regenerate the config and metric tables in README.md and docs/*.md, and the Grafana dashboard JSON, from the definitions the code uses')
    .option('--write', 'rewrite the files (default: exit 1 if any is out of date)')
    .action((o: { write?: boolean }) => {
      for (const [file, next] of Object.entries(generatedFiles())) {
        const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
        if (next === text) continue;
        if (o.write) {
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, next);
        } else {
          process.stderr.write(`${file} is out of date; run: npm run docs\n`);
          process.exitCode = 1;
        }
      }
      for (const [file, { text, next }] of regenerated(docFiles())) {
        if (next === text) continue;
        if (o.write) writeFileSync(file, next);
        else {
          process.stderr.write(`${file} is out of date; run: npm run docs\n`);
          process.exitCode = 1;
        }
      }
    });
}
