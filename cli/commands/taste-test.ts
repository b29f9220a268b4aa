import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createLogger, seededRandom } from '../../common/index.js';
import { loadCompressConfig } from '../../compress/index.js';
import { findJpegs } from '../../corpus/index.js';
import { intArg, numArg } from '../args.js';
import { CpuBackend, DEFAULT_LADDER, type SizeSpec } from '../../image/index.js';
import { loadResizeConfig } from '../../resize/index.js';
import { readAnswers, makePairs, TasteTestServer, MIN_VIEW_MS, loadTasteTestConfig, report, type Verdict } from '../../taste-test/index.js';
import { daemonCommand, HTTP_FLAG } from '../service-command.js';

const ANSWERS = '.state/taste-test/answers.jsonl';

export function registerTasteTest(program: Command): void {
  const cmd = program.command('taste-test').description('blind pairs of resizes before and after perceptual compression: can people tell them apart?');
  daemonCommand(cmd, {
    name: 'serve',
    isDefault: true,
    description: 'serve the taste-test page (default)',
    configHelp: 'taste-test config (JSON); default: port 9467, the fetched photographs, size z',
    flags: [
      // --http 0.0.0.0:9467 lets testers on other machines in.
      { ...HTTP_FLAG, formerly: [...(HTTP_FLAG.formerly ?? []), '--port <n>'] },
      { flags: '--photos <dir>', description: 'photographs the pairs are made from', path: 'photos' },
      { flags: '--size <name>', description: `ladder size under test (${DEFAULT_LADDER.map((s) => s.name).join(', ')})`, path: 'size' },
      { flags: '--target <ssim>', description: 'SSIM target of the compressed side (default: the compress config)', path: 'target', parse: numArg(0.5, 1) },
      { flags: '--resize-config <file>', description: 'resize config whose JPEG settings make the original side', path: 'resizeConfig' },
      { flags: '--compress-config <file>', description: 'compress config whose perceptual settings make the compressed side', path: 'compressConfig' },
      { flags: '--trials <n>', description: 'pairs each tester is shown', path: 'trials', parse: intArg(1, 10_000) },
      { flags: '--limit <n>', description: 'use only the first n photographs', path: 'limit', parse: intArg(1) },
      { flags: '--answers <file>', description: 'answers are appended here (JSON lines)', path: 'answers' },
      { flags: '--seed <n>', description: 'seed the draw of pairs, kinds and sides (for replays)', path: 'seed', parse: intArg(0, 2 ** 32 - 1) },
      { flags: '--min-view-ms <n>', description: 'answers faster than this are recorded but in no verdict', path: 'minViewMs', parse: intArg(0, 600_000) },
    ],
    load: loadTasteTestConfig,
    create: (c) => {
      const log = createLogger('taste-test', c.log.level);
      let server: TasteTestServer | undefined;
      const service = {
        start: async (): Promise<void> => {
          const size = DEFAULT_LADDER.find((s) => s.name === c.size) as SizeSpec;
          const resizeConfig = loadResizeConfig(c.resizeConfig);
          const perceptual = loadCompressConfig(c.compressConfig).perceptual;
          const photos = findJpegs(resolve(c.photos)).slice(0, c.limit);
          if (photos.length === 0) throw new Error(`no JPEGs under ${c.photos}; run infra/setup.sh or pass --photos`);
          log.info({ photos: photos.length, size: size.name, target: c.target ?? perceptual.target }, 'making pairs with the resize and perceptual tiers');
          const { pairs, unchanged } = await makePairs({
            photos,
            size,
            backend: new CpuBackend(2),
            encode: resizeConfig.jpeg,
            perceptual: { ...perceptual, target: c.target ?? perceptual.target, progressive: true },
            onProgress: (done, total) => {
              if (done % 8 === 0 || done === total) log.info({ done, total }, 'pairs');
            },
          });
          if (unchanged.length) log.warn({ unchanged }, 'the perceptual tier would leave these unchanged; they are not shown');
          server = new TasteTestServer({
            pairs,
            answersFile: resolve(c.answers),
            trialsPerTester: c.trials,
            random: c.seed === undefined ? undefined : seededRandom(c.seed),
            minViewMs: c.minViewMs,
            log,
          });
          await server.listen(c.http.port, c.http.host);
          log.info({ url: server.url, results: `${server.url}/report`, answers: resolve(c.answers) }, 'taste test ready');
        },
        stop: async (): Promise<void> => {
          await server?.close();
        },
      };
      return { service, log, graceMs: c.shutdownGraceMs };
    },
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
