import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createLogger, withTextfile } from '../../common/index.js';
import {
  recompressOriginals,
  type LosslessResult,
  loadCompressConfig,
  LosslessMetrics,
  PerceptualWorker,
  isDamage,
  scrub,
  ScrubMetrics,
  loadLosslessConfig,
  loadScrubConfig,
} from '../../compress/index.js';
import { absoluteStoreSpec, damageReportFile, isDirStore } from '../../store/index.js';
import { intArg, numArg } from '../args.js';
import { BROKERS_FLAG, configuredCommand, daemonCommand, STORE_FLAG, HTTP_FLAG } from '../service-command.js';

export function registerCompress(program: Command): void {
  const cmd = program.command('compress').description('the compression tier');
  daemonCommand(cmd, {
    name: 'perceptual',
    description:
      'run a perceptual-compression worker: hearth.images.resized in, smaller resizes and hearth.images.compressed out (`resizes`: its earlier name)',
    configHelp: "compress config (JSON); default: local broker, the local stack's store service",
    flags: [STORE_FLAG, BROKERS_FLAG, HTTP_FLAG],
    load: loadCompressConfig,
    create: (config) => ({ service: new PerceptualWorker(config), log: createLogger('perceptual', config.log.level), graceMs: config.shutdownGraceMs }),
  }).alias('resizes');
  configuredCommand(
    cmd,
    {
      name: 'originals',
      description: 'losslessly recompress originals to JPEG XL, verified byte for byte before any original is removed',
      configHelp: "lossless config (JSON); default: every original of the local stack's store service",
      flags: [
        STORE_FLAG,
        { flags: '--dir <dir>', description: 'where the originals are, under the store', path: 'dir' },
        { flags: '--older-than-days <n>', description: 'only originals not modified for this many days', path: 'olderThanDays', parse: numArg(0) },
        { flags: '--larger-than <bytes>', description: 'only originals larger than this', path: 'largerThan', parse: intArg(0) },
        { flags: '--list <file>', description: 'only the store paths listed (one per line)', path: 'list' },
        { flags: '--jobs <n>', description: 'files at once', path: 'jobs', parse: intArg(1, 256) },
        { flags: '--state-dir <dir>', description: "the batch's run lock and ledger (required with a store service)", path: 'stateDir' },
        { flags: '--effort <n>', description: 'cjxl effort (1-9)', path: 'effort', parse: intArg(1, 9) },
        METRICS_FILE,
      ],
      load: loadLosslessConfig,
    },
    async (o) => {
      const only = o.list
        ? new Set(
            readFileSync(o.list, 'utf8')
              .split('\n')
              .map((l) => l.trim())
              .filter((l) => l && !l.startsWith('#')),
          )
        : undefined;
      const log = createLogger('compress', o.log.level, true);
      const metrics = new LosslessMetrics();
      const t0 = performance.now();
      const results = await withTextfile(
        o.metricsFile && resolve(o.metricsFile),
        (f) => metrics.write(f),
        log,
        () =>
          recompressOriginals({
            store: absoluteStoreSpec(o.store),
            stateDir: o.stateDir && resolve(o.stateDir),
            maxReadBytes: o.maxReadBytes,
            dir: o.dir,
            policy: { olderThanDays: o.olderThanDays, largerThanBytes: o.largerThan, only },
            jobs: o.jobs,
            effort: o.effort,
            log,
            onResult: (r) => metrics.observe(r),
          }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const converted = results.filter((r) => r.outcome === 'converted' || r.outcome === 'finished_earlier_run');
      const before = converted.reduce((a, r) => a + (r.bytesBefore ?? 0), 0);
      const after = converted.reduce((a, r) => a + (r.bytesAfter ?? 0), 0);
      const count = (k: LosslessResult['outcome']) => results.filter((r) => r.outcome === k).length;
      process.stdout.write(
        `${JSON.stringify({
          files: results.length,
          converted: converted.length,
          bytes_before: before,
          bytes_after: after,
          saved_ratio: before ? +(1 - after / before).toFixed(4) : 0,
          mb_s: +(before / 1e6 / Math.max(seconds, 1e-9)).toFixed(2),
          mismatch: count('mismatch'),
          not_jpeg: count('not_jpeg'),
          skipped: count('skipped_policy') + count('skipped_ledger'),
        })}\n`,
      );
      if (count('mismatch') > 0) process.exitCode = 1;
    },
  );
  configuredCommand(
    cmd,
    {
      name: 'scrub',
      description: 'reconstruct every original kept as JPEG XL and check it against its recorded digest, at a bounded rate; exit 1 on any damage',
      configHelp: "scrub config (JSON); default: all of the local stack's store service at 20 MB/s",
      flags: [
        STORE_FLAG,
        { flags: '--dir <dir>', description: 'only under this directory of the store (default: all of it)', path: 'dir' },
        { flags: '--rate <MB/s>', description: '.jxl megabytes read per second at most', path: 'rateMBs', parse: numArg(0.01) },
        {
          flags: '--adopt',
          description:
            'record a digest for .jxl files that have none, when their reconstruction decodes completely (they are reported, never served, until then)',
          path: 'adopt',
        },
        METRICS_FILE,
      ],
      load: loadScrubConfig,
    },
    async (o) => {
      const log = createLogger('scrub', o.log.level, true);
      const metrics = new ScrubMetrics();
      const store = absoluteStoreSpec(o.store);
      const counts: Record<string, number> = {};
      let damaged = 0;
      await withTextfile(
        o.metricsFile && resolve(o.metricsFile),
        (f) => metrics.write(f),
        log,
        () =>
          scrub({
            store,
            dir: o.dir,
            bytesPerSecond: o.rateMBs * 1e6,
            adopt: o.adopt,
            maxReadBytes: o.maxReadBytes,
            log,
            onResult: (r) => {
              metrics.observe(r);
              counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
              if (isDamage(r.outcome)) damaged++;
              process.stdout.write(`${JSON.stringify(r)}\n`);
            },
          }),
      );
      process.stdout.write(
        `${JSON.stringify({ summary: true, ...counts, damaged, ...(damaged ? { report: isDirStore(store) ? damageReportFile(store) : `the repair list of the store service at ${store}` } : {}) })}\n`,
      );
      if (damaged > 0) process.exitCode = 1;
    },
  );
}

const METRICS_FILE = {
  flags: '--metrics-file <file>',
  description: "write metrics here in Prometheus text format (node_exporter's textfile collector), every 10 s and at the end",
  path: 'metricsFile',
};
