import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { configMarkdown, spliceDocs, metricsMarkdown } from '../../common/index.js';
import { WarmerConfigSchema, WARMER_METRICS } from '../../warmer/index.js';
import { ResizeConfigSchema, RESIZE_METRICS } from '../../resize/index.js';
import { CompressConfigSchema, COMPRESS_METRICS, LOSSLESS_METRICS, SCRUB_METRICS } from '../../compress/index.js';
import { ORIGIN_METRICS, OriginConfigSchema } from '../../origin/index.js';
import { TasteTestConfigSchema } from '../../taste-test/index.js';

/** Every generated README section, by marker name. */
export function renderDocs(): Record<string, string> {
  return {
    'warmer-config': configMarkdown(WarmerConfigSchema),
    'warmer-metrics': metricsMarkdown(WARMER_METRICS),
    'resize-config': configMarkdown(ResizeConfigSchema),
    'resize-metrics': metricsMarkdown(RESIZE_METRICS),
    'compress-config': configMarkdown(CompressConfigSchema),
    'compress-metrics': metricsMarkdown(COMPRESS_METRICS),
    'lossless-metrics': metricsMarkdown(LOSSLESS_METRICS),
    'scrub-metrics': metricsMarkdown(SCRUB_METRICS),
    'origin-metrics': metricsMarkdown(ORIGIN_METRICS),
    'origin-config': configMarkdown(OriginConfigSchema),
    'taste-test-config': configMarkdown(TasteTestConfigSchema),
  };
}

export function registerDocs(program: Command): void {
  program
    .command('docs')
    .description('regenerate the config and metric tables in README.md from the definitions the code uses')
    .option('--write', 'rewrite README.md (default: exit 1 if it is out of date)')
    .option('--file <file>', 'the file to update', 'README.md')
    .action((o: { write?: boolean; file: string }) => {
      const text = readFileSync(o.file, 'utf8');
      const next = spliceDocs(text, renderDocs());
      if (next === text) return;
      if (o.write) writeFileSync(o.file, next);
      else {
        process.stderr.write(`${o.file} is out of date; run: npm run docs\n`);
        process.exitCode = 1;
      }
    });
}
