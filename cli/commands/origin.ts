import type { Command } from 'commander';
import { parseHostPort } from '@hearth/api-hook';
import { createLogger } from '../../common/index.js';
import { OriginServer, loadOriginConfig } from '../../origin/index.js';
import { intArg } from '../args.js';
import { daemonCommand, STORE_FLAG, HTTP_FLAG } from '../service-command.js';

export function registerOrigin(program: Command): void {
  daemonCommand(program, {
    name: 'origin',
    description:
      'the origin service: stored sizes as they are, missing ladder sizes made on the fly from the largest stored one, originals kept as JPEG XL reconstructed and checked',
    configHelp: "origin config (JSON); default: 127.0.0.1:8083, metrics 127.0.0.1:9468, the local stack's store service",
    flags: [
      { flags: '--listen <host:port>', description: 'address of the image paths (behind the origin front)', path: 'listen', parse: parseHostPort },
      HTTP_FLAG,
      STORE_FLAG,
      { flags: '--no-store-derived', description: 'do not write sizes made on the fly into the store', path: 'storeDerived' },
      { flags: '--max-concurrent <n>', description: 'on-the-fly resizes at once', path: 'maxConcurrent', parse: intArg(1, 256) },
      { flags: '--max-queue <n>', description: 'on-the-fly resizes waiting; beyond: 503 with Retry-After', path: 'maxQueue', parse: intArg(0, 100_000) },
      { flags: '--quality <q>', description: 'JPEG quality', path: 'jpeg.quality', parse: intArg(1, 100) },
    ],
    load: loadOriginConfig,
    create: (c) => {
      const log = createLogger('origin', c.log.level);
      const server = new OriginServer({
        ...c.listen,
        store: c.store,
        metrics: c.http,
        storeDerived: c.storeDerived,
        maxConcurrent: c.maxConcurrent,
        maxQueue: c.maxQueue,
        encode: c.jpeg,
        formats: c.formats,
        logger: log,
      });
      return { service: server, log, graceMs: c.shutdownGraceMs };
    },
  });
}
