import type { Command } from 'commander';
import { parseHostPort } from '@hearth/api-hook';
import { resolve } from 'node:path';
import { createLogger, withTextfile } from '../../common/index.js';
import { loadStoreServerConfig, StoreServer } from '../../store-server/index.js';
import { Presets, SingleBar } from 'cli-progress';
import { copyStore, DEFAULT_STORE, openStore, VolumeEngine, withStore, type EngineStats, type VerifyResult } from '../../store/index.js';
import { ReportMetrics, reportTable, storeReport, VerifyMetrics } from '../../store-server/index.js';
import { intArg } from '../args.js';
import { daemonCommand, HTTP_FLAG } from '../service-command.js';

const DIR_FLAG = { flags: '--dir <dir>', description: 'directory of the volume and index files', path: 'volumes.dir' };

/** The engine's figures, from the running service, or from the directory when none runs. */
async function statsOf(o: { url?: string; dir?: string }): Promise<EngineStats> {
  if (o.url) {
    const r = await fetch(`${o.url.replace(/\/+$/, '')}/stats`);
    if (!r.ok) throw new Error(`${o.url}/stats answered ${r.status}: ${await r.text()}`);
    return (await r.json()) as EngineStats;
  }
  const engine = await VolumeEngine.open({ dir: o.dir ?? '.cache/volumes' });
  try {
    return await engine.stats();
  } finally {
    await engine.close();
  }
}

export function registerStore(program: Command): void {
  const cmd = program.command('store').description('the volumes store: the service, its figures and compaction');
  daemonCommand(cmd, {
    name: 'serve',
    isDefault: true,
    description: 'run the store service: a volumes engine (Haystack-style needles in large volume files) behind HTTP, for every tier',
    configHelp: 'store config (JSON); default: 127.0.0.1:8084, status 127.0.0.1:9480, volumes in .cache/volumes',
    flags: [
      { flags: '--listen <host:port>', description: 'address of the store paths', path: 'listen', parse: parseHostPort },
      HTTP_FLAG,
      DIR_FLAG,
      { flags: '--volume-bytes <n>', description: 'seal a volume past this size', path: 'volumes.volumeBytes', parse: intArg(64 * 1024, 2 ** 34) },
      {
        flags: '--min-free-bytes <n>',
        description: 'refuse puts below this much free disk',
        path: 'volumes.minFreeBytes',
        parse: intArg(0, Number.MAX_SAFE_INTEGER),
      },
    ],
    load: loadStoreServerConfig,
    create: (c) => {
      const log = createLogger('store', c.log.level);
      return { service: new StoreServer(c, log), log, graceMs: c.shutdownGraceMs };
    },
  });
  cmd
    .command('stats')
    .description('objects, bytes, garbage ratio, index bytes per object, free space and each volume, as JSON')
    .option('--url <url>', "a running store service's status address (http://127.0.0.1:9480)")
    .option('--dir <dir>', 'a volumes directory no service holds', '.cache/volumes')
    .action(async (o: { url?: string; dir?: string }) => {
      process.stdout.write(`${JSON.stringify(await statsOf(o), null, 2)}\n`);
    });
  for (const [name, description] of [
    [
      'import',
      'copy every object of one store into another (a dir store into the store service), bytes and metadata, each read back and compared; run again to resume',
    ],
    ['export', 'the same the other way (the store service into a dir store)'],
  ] as const) {
    cmd
      .command(name)
      .description(description)
      .requiredOption('--from <dir-or-url>', 'the store to copy from')
      .requiredOption('--to <dir-or-url>', 'the store to copy into')
      .option('--prefix <prefix>', 'only keys under this', '/')
      .option('--jobs <n>', 'objects at once', intArg(1, 256), 16)
      .action(async (o: { from: string; to: string; prefix: string; jobs: number }) => {
        const from = openStore(o.from);
        const to = openStore(o.to);
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort());
        const bar = process.stderr.isTTY
          ? new SingleBar({ format: `${name} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}` }, Presets.shades_classic)
          : undefined;
        let tenth = -1;
        try {
          const r = await copyStore({
            from,
            to,
            prefix: o.prefix,
            jobs: o.jobs,
            signal: abort.signal,
            onProgress: (done, total) => {
              if (bar) {
                if (done === 0) bar.start(total, 0);
                else bar.update(done);
              } else if (Math.floor((10 * done) / Math.max(1, total)) > tenth) {
                tenth = Math.floor((10 * done) / Math.max(1, total));
                process.stderr.write(`${name}: ${done}/${total}\n`);
              }
            },
          });
          bar?.stop();
          process.stdout.write(
            `${JSON.stringify({ ...r, conflicts: r.conflicts.length, firstConflicts: r.conflicts.slice(0, 10), complete: !abort.signal.aborted })}\n`,
          );
          if (r.conflicts.length || abort.signal.aborted) process.exitCode = 1;
        } finally {
          await Promise.all([from.close(), to.close()]);
        }
      });
  }
  cmd
    .command('report')
    .description(
      'bytes by kind (originals, JPEG XL originals, each stored size, the AVIF and WebP sizes kept, quarantine, other), per photo, and what JPEG XL and perceptual compression saved; any store',
    )
    .option('--store <dir-or-url>', 'the store: a directory or a store service address', DEFAULT_STORE)
    .option('--json', 'one JSON object instead of a table')
    .option('--metrics-file <file>', "write hearth_store_report_* metrics there for node-exporter's textfile collector (the dashboard's store row shows them)")
    .action(async (o: { store: string; json?: boolean; metricsFile?: string }) => {
      const r = await withStore(o.store, storeReport);
      if (o.metricsFile) await new ReportMetrics().write(r, resolve(o.metricsFile));
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : reportTable(r));
    });
  cmd
    .command('verify')
    .description('read every live needle and check its checksum, at a bounded rate; exit 1 on any damage (each is logged and on the repair list)')
    .option('--url <url>', "a running store service's status address (http://127.0.0.1:9480)")
    .option('--dir <dir>', 'a volumes directory no service holds', '.cache/volumes')
    .option('--mb-per-s <n>', 'read at most this many MB/s (0: as fast as the disk goes)', '50')
    .option('--metrics-file <file>', "write hearth_store_verify_* metrics there for node-exporter's textfile collector")
    .action(async (o: { url?: string; dir: string; mbPerS: string; metricsFile?: string }) => {
      const log = createLogger('store', 'info', true);
      const metrics = new VerifyMetrics();
      const rate = Number(o.mbPerS);
      const r = await withTextfile(
        o.metricsFile && resolve(o.metricsFile),
        (f) => metrics.write(f),
        log,
        async () => {
          if (o.url) {
            const res = await fetch(`${o.url.replace(/\/+$/, '')}/verify?mb-per-s=${rate}`, { method: 'POST' });
            if (!res.ok) throw new Error(`${o.url}/verify answered ${res.status}: ${await res.text()}`);
            const done = (await res.json()) as VerifyResult;
            metrics.observe(done.checked, done.bytes, done.damaged.length);
            return done;
          }
          const engine = await VolumeEngine.open({ dir: o.dir, log });
          try {
            return await engine.verify({ bytesPerSecond: rate > 0 ? rate * 1e6 : undefined, onProgress: (c, b) => metrics.progress(c, b) });
          } finally {
            await engine.close();
          }
        },
      );
      metrics.observe(r.checked, r.bytes, r.damaged.length);
      if (o.metricsFile) await metrics.write(resolve(o.metricsFile));
      process.stdout.write(`${JSON.stringify({ checked: r.checked, bytes: r.bytes, damaged: r.damaged.length, first: r.damaged.slice(0, 10) })}\n`);
      if (r.damaged.length) process.exitCode = 1;
    });
  cmd
    .command('compact')
    .description('copy the live needles of sealed volumes to new files and swap them in; reads and writes go on')
    .argument('[volumes...]', 'volume names (default: every sealed volume whose garbage ratio is at least --min-garbage)')
    .option('--url <url>', "a running store service's status address (http://127.0.0.1:9480)")
    .option('--dir <dir>', 'a volumes directory no service holds', '.cache/volumes')
    .option('--min-garbage <ratio>', 'compact a volume only from this share of garbage', '0.2')
    .action(async (names: string[], o: { url?: string; dir?: string; minGarbage: string }) => {
      const stats = await statsOf(o);
      const chosen = names.length
        ? names
        : stats.perVolume.filter((v) => v.sealed && v.bytes > 0 && 1 - v.liveBytes / v.bytes >= Number(o.minGarbage)).map((v) => v.name);
      const engine = o.url ? undefined : await VolumeEngine.open({ dir: o.dir ?? '.cache/volumes' });
      try {
        for (const volume of chosen) {
          let r: unknown;
          if (o.url) {
            const res = await fetch(`${o.url.replace(/\/+$/, '')}/compact?volume=${encodeURIComponent(volume)}`, { method: 'POST' });
            r = await res.json();
            if (!res.ok) throw new Error(`compacting ${volume}: ${JSON.stringify(r)}`);
          } else r = { volume, ...(await engine!.compact(volume)) };
          process.stdout.write(`${JSON.stringify(r)}\n`);
        }
      } finally {
        await engine?.close();
      }
    });
}
