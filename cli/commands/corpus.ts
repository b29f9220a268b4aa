import { resolve } from 'node:path';
import type { Command } from 'commander';
import { buildCorpus, findJpegs } from '../../corpus/index.js';
import { absoluteStoreSpec } from '../../store/index.js';
import { intArg } from '../args.js';

export function registerCorpus(program: Command): void {
  program
    .command('corpus')
    .description('build the store of real photographs for the local stack (cached)')
    .requiredOption('--src <dir...>', 'directories searched for source JPEGs')
    .requiredOption('-o, --out <store>', 'the store to build: a directory, or the http:// address of the store service')
    .option('--state-dir <dir>', "where the manifest is kept (default: the directory store's root; required with a store service)")
    .option('--ids-per-photo <n>', 'distinct images made from each photo', intArg(1, 1000), 40)
    .action(async (o: { src: string[]; out: string; stateDir?: string; idsPerPhoto: number }) => {
      const sources = o.src.flatMap((d) => findJpegs(resolve(d)));
      if (sources.length === 0) throw new Error(`no JPEGs under ${o.src.join(', ')}`);
      const m = await buildCorpus({
        sources,
        out: absoluteStoreSpec(o.out),
        stateDir: o.stateDir && resolve(o.stateDir),
        idsPerPhoto: o.idsPerPhoto,
        onProgress: (done, total) => {
          if (done % 50 === 0 || done === total) process.stderr.write(`corpus: ${done}/${total} images\n`);
        },
      });
      process.stdout.write(
        `${JSON.stringify({ root: absoluteStoreSpec(o.out), photos: m.sources.length, images: m.sources.length * m.idsPerPhoto, paths: m.paths.length })}\n`,
      );
    });
}
