import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { loadBackfillConfig, runBackfill, readList, listOriginals } from '../../backfill/index.js';
import { absoluteStoreSpec, openStore } from '../../store/index.js';
import { TOPICS, connectProducer } from '../../kafka/index.js';
import { intArg, numArg } from '../args.js';
import { BROKERS_FLAG, configuredCommand, STORE_FLAG } from '../service-command.js';

export function registerBackfill(program: Command): void {
  configuredCommand(
    program,
    {
      name: 'backfill',
      description: 'produce hearth.images.uploaded for every existing original, at a set rate; resumable after Ctrl-C or a crash',
      configHelp: "backfill config (JSON); default: the originals of the local stack's store service to its broker",
      flags: [
        STORE_FLAG,
        { flags: '--list <file>', description: 'read "<id> <store path>" lines instead of walking the store', path: 'list' },
        BROKERS_FLAG,
        { flags: '--rate <n>', description: 'messages per second', path: 'rate', parse: numArg(0.001) },
        { flags: '--batch <n>', description: 'messages per send (and per checkpoint)', path: 'batch', parse: intArg(1, 100_000) },
        { flags: '--checkpoint <file>', description: 'progress file', path: 'checkpoint' },
        { flags: '--partitions <n>', description: 'partitions if the topic must be created', path: 'kafka.partitions', parse: intArg(1, 1024) },
        { flags: '--no-progress', description: 'no progress bar (one log line per 10 %)', path: 'progress' },
      ],
      load: loadBackfillConfig,
      options: (cmd) => cmd.option('--restart', 'ignore the checkpoint and start from the first original'),
    },
    async (o, opts) => {
      const store = absoluteStoreSpec(o.store);
      const log = createLogger('backfill', o.log.level);
      let entries = o.list ? readList(o.list) : undefined;
      if (!entries) {
        const source = openStore(store);
        const listed = await listOriginals(source).finally(() => source.close());
        if (listed.misplaced.length > 0)
          log.warn(
            { count: listed.misplaced.length, first: listed.misplaced.slice(0, 5) },
            "JPEGs under /originals/ not at their id's path: left out (no tier would accept them)",
          );
        entries = listed.entries;
      }
      if (opts.restart) rmSync(o.checkpoint, { force: true });
      const producer = await connectProducer(o.kafka.brokers, 'hearth-backfill', log, { [TOPICS.uploaded]: o.kafka.partitions });
      const abort = new AbortController();
      // Ctrl-C: finish the batch in flight, write the checkpoint, stop.
      const onSignal = (): void => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const bar =
        o.progress && process.stderr.isTTY
          ? new SingleBar({ format: 'backfill [{bar}] {percentage}% | {value}/{total} | {speed}/s | ETA {eta_formatted}' }, Presets.shades_classic)
          : undefined;
      let lastTenth = -1;
      const t0 = Date.now();
      let first: number | undefined;
      const done = await runBackfill({
        entries,
        producer,
        checkpoint: o.checkpoint,
        rate: o.rate,
        batch: o.batch,
        signal: abort.signal,
        onProgress: (d, total) => {
          first ??= d;
          const speed = Math.round(((d - first) * 1000) / Math.max(1, Date.now() - t0));
          if (bar) {
            if (d === first) bar.start(total, d, { speed });
            else bar.update(d, { speed });
          } else if (Math.floor((10 * d) / Math.max(1, total)) > lastTenth) {
            lastTenth = Math.floor((10 * d) / Math.max(1, total));
            process.stderr.write(`backfill: ${d}/${total} (${speed}/s)\n`);
          }
        },
      });
      bar?.stop();
      await producer.disconnect();
      process.stdout.write(`${JSON.stringify({ done, total: entries.length, complete: done === entries.length, checkpoint: resolve(o.checkpoint) })}\n`);
      if (done < entries.length) process.exitCode = 130;
    },
  );
}
