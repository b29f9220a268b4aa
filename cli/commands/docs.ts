import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { configMarkdown, spliceDocs, metricsMarkdown } from '../../common/index.js';
import { WarmerConfigSchema, WARMER_METRICS } from '../../warmer/index.js';
import { ResizeConfigSchema, RESIZE_METRICS } from '../../resize/index.js';
import { BackfillConfigSchema } from '../../backfill/index.js';
import { UploadConfigSchema } from '../../upload/index.js';
import { CompressConfigSchema, COMPRESS_METRICS, LosslessConfigSchema, ScrubConfigSchema, LOSSLESS_METRICS, SCRUB_METRICS } from '../../compress/index.js';
import { ORIGIN_METRICS, OriginConfigSchema } from '../../origin/index.js';
import { TASTE_TEST_METRICS, TasteTestConfigSchema } from '../../taste-test/index.js';

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
    'backfill-config': configMarkdown(BackfillConfigSchema),
    'upload-config': configMarkdown(UploadConfigSchema),
    'lossless-config': configMarkdown(LosslessConfigSchema),
    'scrub-config': configMarkdown(ScrubConfigSchema),
    'taste-test-config': configMarkdown(TasteTestConfigSchema),
    'taste-test-metrics': metricsMarkdown(TASTE_TEST_METRICS),
  };
}

/** The files that hold generated sections: the README and every page under docs/. */
export function docFiles(repo = '.'): string[] {
  const dir = join(repo, 'docs');
  return [join(repo, 'README.md'), ...readdirSync(dir).filter((f) => f.endsWith('.md')).sort().map((f) => join(dir, f))];
}

/** Each file as it should be, with every section it holds regenerated. */
export function regenerated(files: readonly string[]): Map<string, { text: string; next: string }> {
  const sections = renderDocs();
  return new Map(files.map((f) => {
    const text = readFileSync(f, 'utf8');
    return [f, { text, next: spliceDocs(text, sections) }];
  }));
}

export function registerDocs(program: Command): void {
  program
    .command('docs')
    .description('regenerate the config and metric tables in README.md and docs/*.md from the definitions the code uses')
    .option('--write', 'rewrite the files (default: exit 1 if any is out of date)')
    .action((o: { write?: boolean }) => {
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
