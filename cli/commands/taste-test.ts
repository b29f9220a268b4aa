import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createLogger, seededRandom } from '../../common/index.js';
import { loadCompressConfig } from '../../compress/index.js';
import { findJpegs } from '../../corpus/index.js';
import { intArg, numArg, portArg } from '../args.js';
import { CpuBackend, DEFAULT_LADDER } from '../../image/index.js';
import { loadResizeConfig } from '../../resize/index.js';
import { readAnswers, makePairs, TasteTestServer, MIN_VIEW_MS, report, type Verdict } from '../../taste-test/index.js';

const ANSWERS = '.state/taste-test/answers.jsonl';

interface ServeOptions {
  port: number;
  host: string;
  photos: string;
  size: string;
  target?: number;
  resizeConfig?: string;
  compressConfig?: string;
  trials: number;
  limit?: number;
  answers: string;
  seed?: number;
  minViewMs: number;
}

export function registerTasteTest(program: Command): void {
  const cmd = program.command('taste-test').description('blind pairs of resizes before and after perceptual compression: can people tell them apart?');
  cmd
    .command('serve', { isDefault: true })
    .description('serve the taste-test page (default)')
    .option('--port <n>', 'HTTP port', portArg, 9467)
    .option('--host <addr>', 'address to listen on (0.0.0.0 to let testers on other machines in)', '127.0.0.1')
    .option('--photos <dir>', 'photographs the pairs are made from', '.cache/photos/src')
    .option('--size <name>', `ladder size under test (${DEFAULT_LADDER.map((s) => s.name).join(', ')})`, 'z')
    .option('--target <ssim>', 'SSIM target of the compressed side (default: the compress config)', numArg(0.5, 1))
    .option('--resize-config <file>', 'resize config whose JPEG settings make the original side')
    .option('--compress-config <file>', 'compress config whose perceptual settings make the compressed side')
    .option('--trials <n>', 'pairs each tester is shown', intArg(1, 10_000), 20)
    .option('--limit <n>', 'use only the first n photographs', intArg(1))
    .option('--answers <file>', 'answers are appended here (JSON lines)', ANSWERS)
    .option('--seed <n>', 'seed the draw of pairs, kinds and sides (for replays)', intArg(0, 2 ** 32 - 1))
    .option('--min-view-ms <n>', 'answers faster than this are recorded but in no verdict', intArg(0, 600_000), MIN_VIEW_MS)
    .action(async (o: ServeOptions) => {
      const log = createLogger('taste-test', 'info');
      const size = DEFAULT_LADDER.find((s) => s.name === o.size);
      if (!size) throw new Error(`unknown size "${o.size}"; one of ${DEFAULT_LADDER.map((s) => s.name).join(', ')}`);
      const resizeConfig = loadResizeConfig(o.resizeConfig);
      const perceptual = loadCompressConfig(o.compressConfig).perceptual;
      const photos = findJpegs(resolve(o.photos)).slice(0, o.limit);
      if (photos.length === 0) throw new Error(`no JPEGs under ${o.photos}; run infra/setup.sh or pass --photos`);
      log.info({ photos: photos.length, size: size.name, target: o.target ?? perceptual.target }, 'making pairs with the resize and perceptual tiers');
      const { pairs, unchanged } = await makePairs({
        photos,
        size,
        backend: new CpuBackend(2),
        encode: resizeConfig.jpeg,
        perceptual: { ...perceptual, target: o.target ?? perceptual.target, progressive: true },
        onProgress: (done, total) => {
          if (done % 8 === 0 || done === total) log.info({ done, total }, 'pairs');
        },
      });
      if (unchanged.length) log.warn({ unchanged }, 'the perceptual tier would leave these unchanged; they are not shown');
      const server = new TasteTestServer({ pairs, answersFile: resolve(o.answers), trialsPerTester: o.trials, random: o.seed === undefined ? undefined : seededRandom(o.seed), minViewMs: o.minViewMs, log });
      await server.listen(o.port, o.host);
      log.info({ url: server.url, results: `${server.url}/report`, answers: resolve(o.answers) }, 'taste test ready');
      const stop = (): void => void server.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  cmd
    .command('report')
    .description('whether testers told the pairs apart better than chance, from the answers file')
    .option('--answers <file>', 'answers file', ANSWERS)
    .option('--json', 'print JSON')
    .option('--min-view-ms <n>', 'answers faster than this are left out of every verdict', intArg(0, 600_000), MIN_VIEW_MS)
    .action(async (o: { answers: string; json?: boolean; minViewMs: number }) => {
      const { answers, damaged } = await readAnswers(resolve(o.answers));
      const r = report(answers, { minViewMs: o.minViewMs });
      if (o.json) return void process.stdout.write(`${JSON.stringify({ ...r, damaged })}\n`);
      const line = (label: string, v: Verdict): string =>
        `${label.padEnd(28)} ${String(v.trials).padStart(6)} ${String(v.correct).padStart(6)} ${v.accuracy.toFixed(3).padStart(8)} ${String(v.pValue).padStart(9)}  ${v.distinguishable ? 'told apart' : 'not told apart'}`;
      const out = [
        `${r.testers} tester(s), ${answers.length} answers${damaged ? `, ${damaged} damaged line(s) skipped` : ''}${r.tooFast ? `, ${r.tooFast} faster than ${r.minViewMs} ms left out` : ''}; guessing is right half the time`,
        `${''.padEnd(28)} ${'trials'.padStart(6)} ${'right'.padStart(6)} ${'accuracy'.padStart(8)} ${'p'.padStart(9)}`,
        line('all', r.overall),
        ...r.byTarget.map((v) => line(`target ${v.target}, size ${v.size}`, v)),
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
