import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { Partitioners } from 'kafkajs';
import type { Command } from 'commander';
import { createLogger, type LogLevel } from '../../common/index.js';
import { runBackfill, readList, walkOriginals } from '../../backfill/index.js';
import { TOPICS, createKafka, ensureTopics } from '../../kafka/index.js';
import { intArg, numArg } from '../args.js';
import { logLevelArg } from '../service-command.js';

interface BackfillOpts {
  store: string;
  logLevel: LogLevel;
  dir: string;
  list?: string;
  brokers: string;
  rate: number;
  batch: number;
  checkpoint: string;
  restart?: boolean;
  partitions: number;
  progress: boolean;
}

export function registerBackfill(program: Command): void {
  program
    .command('backfill')
    .description('produce hearth.images.uploaded for every existing original, at a set rate; resumable after Ctrl-C or a crash')
    .option('--store <dir>', 'store root', '.cache/store')
    .option('--dir <dir>', 'where the originals are, under the store', 'originals')
    .option('--list <file>', 'read "<id> <store path>" lines instead of walking the store')
    .option('--brokers <list>', 'comma-separated Kafka brokers', '127.0.0.1:9092')
    .option('--rate <n>', 'messages per second', numArg(0.001), 500)
    .option('--batch <n>', 'messages per send (and per checkpoint)', intArg(1, 100_000), 100)
    .option('--checkpoint <file>', 'progress file', '.state/backfill.json')
    .option('--restart', 'ignore the checkpoint and start from the first original')
    .option('--partitions <n>', 'partitions if the topic must be created', intArg(1, 1024), 8)
    .option('--no-progress', 'no progress bar (one log line per 10 %)')
    .option('--log-level <level>', 'log level', logLevelArg, 'warn')
    .action(async (o: BackfillOpts) => {
      if (!(o.rate > 0) || !(o.batch > 0)) throw new Error('--rate and --batch must be positive');
      const store = resolve(o.store);
      const entries = o.list ? readList(o.list) : walkOriginals(store, o.dir);
      if (o.restart) rmSync(o.checkpoint, { force: true });
      const log = createLogger('backfill', o.logLevel);
      const kafka = createKafka(o.brokers.split(','), 'hearth-backfill', log);
      const admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, { [TOPICS.uploaded]: o.partitions });
      await admin.disconnect();
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 } });
      await producer.connect();
      const abort = new AbortController();
      // Ctrl-C: finish the batch in flight, write the checkpoint, stop.
      const onSignal = (): void => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const bar = o.progress && process.stderr.isTTY ? new SingleBar({ format: 'backfill [{bar}] {percentage}% | {value}/{total} | {speed}/s | ETA {eta_formatted}' }, Presets.shades_classic) : undefined;
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
    });
}
