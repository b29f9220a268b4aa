import type { Command } from 'commander';
import { parseHostPort } from '@hearth/api-hook';
import { OriginServer } from '../../origin/index.js';
import { intArg } from '../args.js';

export function registerOrigin(program: Command): void {
  program
    .command('origin')
    .description('the origin service: stored sizes as they are, missing ladder sizes made on the fly from the largest stored one')
    .option('--listen <host:port>', 'address of the image paths (behind the origin front)', '127.0.0.1:8083')
    .option('--metrics-listen <host:port>', '/metrics and /healthz, on a listener of their own that no cache fronts', '127.0.0.1:9468')
    .option('--store <dir>', 'store root', '.cache/store')
    .option('--no-store-derived', 'do not write sizes made on the fly into the store')
    .option('--max-concurrent <n>', 'on-the-fly resizes at once', intArg(1, 256), 2)
    .option('--max-queue <n>', 'on-the-fly resizes waiting; beyond: 503 with Retry-After', intArg(0, 100_000), 16)
    .option('--quality <q>', 'JPEG quality', intArg(1, 100), 85)
    .action(async (o: { listen: string; metricsListen: string; store: string; storeDerived: boolean; maxConcurrent: number; maxQueue: number; quality: number }) => {
      const { host, port } = parseHostPort(o.listen);
      const server = new OriginServer({
        store: o.store,
        host,
        port,
        metrics: parseHostPort(o.metricsListen),
        storeDerived: o.storeDerived,
        maxConcurrent: o.maxConcurrent,
        maxQueue: o.maxQueue,
        encode: { quality: o.quality, progressive: true, chromaSubsampling: '4:2:0' },
      });
      await server.start();
      const stop = (): void => void server.stop().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
