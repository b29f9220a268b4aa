import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_SIM, SIM_BROWSERS, formatReport, recordUsedPaths, simulate, type SimBrowser, type SimOptions, simTargetOf } from '../../simulate/index.js';
import { Stack } from '../../stack/index.js';

const range = (v: string): [number, number] => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected N or MIN-MAX');
  const lo = Number(m[1]);
  const hi = Number(m[2] ?? m[1]);
  if (hi < lo) throw new InvalidArgumentError('MAX is below MIN');
  return [lo, hi];
};
const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};

/** `chromium:0.7,safari-no-avif:0.3`: shares of the known browsers (the rest get none). */
const browsers = (v: string): SimBrowser[] => {
  const out = v.split(',').map((kv) => {
    const [name, share] = kv.split(':');
    const b = SIM_BROWSERS.find((x) => x.name === name);
    if (!b) throw new InvalidArgumentError(`unknown browser ${JSON.stringify(name)}; known: ${SIM_BROWSERS.map((x) => x.name).join(', ')}`);
    return { ...b, share: positive(share ?? '') };
  });
  return out;
};

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('page views against the running local stack, with warming off and on: hit ratios, latency, race wins, waste, drops')
    .option('--state <dir>', "the stack's state directory", process.env.HEARTH_STATE_DIR ?? '.state/stack')
    .option('--pages <n>', 'page views per mode', (v) => Math.round(positive(v)), DEFAULT_SIM.pages)
    .option('--images <min-max>', 'images per page', range, [DEFAULT_SIM.minImages, DEFAULT_SIM.maxImages])
    .option('--gap <min-max>', 'HTML-to-image gap in ms, uniform', range, DEFAULT_SIM.gapMs)
    .option('--rate <n>', 'pages started per second', positive, DEFAULT_SIM.rate)
    .option('--view-ratio <r>', "share of a page's images the browser requests", positive, DEFAULT_SIM.viewRatio)
    .option('--seed <n>', 'random seed', (v) => Math.round(positive(v)), DEFAULT_SIM.seed)
    .option('--mode <modes>', 'off, on, or off,on', (v) => v.split(',') as SimOptions['modes'], DEFAULT_SIM.modes)
    .option(
      '--browsers <name:share,...>',
      `who views the pages, by share (${SIM_BROWSERS.map((b) => `${b.name}:${b.share}`).join(',')}); each page is one browser's, with its Accept`,
      browsers,
      [...DEFAULT_SIM.browsers],
    )
    .option('--json', 'print the report as JSON')
    .action(
      async (o: {
        state: string;
        pages: number;
        images: [number, number];
        gap: [number, number];
        rate: number;
        viewRatio: number;
        seed: number;
        mode: SimOptions['modes'];
        browsers: SimBrowser[];
        json?: boolean;
      }) => {
        if (o.mode.some((m) => m !== 'off' && m !== 'on')) throw new InvalidArgumentError('--mode takes off, on or off,on');
        const stack = Stack.load(resolve(o.state));
        if (!stack) throw new Error(`no stack in ${resolve(o.state)}; start one with: hearth stack up --origin-delay-ms 150`);
        // Each run on paths no earlier run warmed: it measures warming, not a cache already full.
        const touched = new Set<string>();
        const reports = await simulate(
          simTargetOf(stack),
          {
            pages: o.pages,
            minImages: o.images[0],
            maxImages: o.images[1],
            gapMs: o.gap,
            rate: o.rate,
            viewRatio: Math.min(1, o.viewRatio),
            browserConcurrency: DEFAULT_SIM.browserConcurrency,
            seed: o.seed,
            modes: o.mode,
            browsers: o.browsers,
          },
          touched,
        ).finally(() => recordUsedPaths(stack, touched));
        process.stdout.write(o.json ? `${JSON.stringify(reports)}\n` : formatReport(reports));
      },
    );
}
