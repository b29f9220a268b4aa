import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { FORMAT_CLASSES, createHinter, isFormatClass, parseHostPort, type FormatClass } from '@hearth/api-hook';
import { loadWarmerConfig, hintProblems } from '../../warmer/index.js';

const collect = (value: string, previous: string[]): string[] => {
  try {
    parseHostPort(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return [...previous, value];
};

interface HintOpts {
  to: string[];
  viewer?: string;
  colo?: string;
  accept?: string;
  format?: FormatClass;
  keyId?: string;
  keyFile?: string;
  warmerConfig?: string;
  check: boolean;
}

export function registerHint(program: Command): void {
  program
    .command('hint')
    .description('send one warm hint, as an API server would (signed when given a key)')
    .argument('<paths...>', 'image paths, e.g. /photos/1/2_b.jpg')
    .option('--to <host:port>', 'warmer address; repeat for several (paths are spread by consistent hashing)', collect, [])
    .option('--viewer <ip>', "the viewer's IP address")
    .option('--colo <name>', 'a colo name, instead of --viewer')
    .option('--accept <header>', "the viewer's Accept header: the warmer pushes the encoding it gets (default: JPEG)")
    .option('--format <class>', `the viewer's format class instead (${FORMAT_CLASSES.join(', ')})`, (v: string) => {
      if (!isFormatClass(v)) throw new InvalidArgumentError(`one of ${FORMAT_CLASSES.join(', ')}`);
      return v;
    })
    .option('--key-id <id>', 'HMAC key id')
    .option('--key-file <file>', 'file holding the HMAC secret (or set HEARTH_HINT_KEY)')
    .option('--warmer-config <file>', "check the hint against this warmer config (default: the warmer's embedded default)")
    .option('--no-check', 'send even a hint the warmer would drop (to exercise its drop counters)')
    .action(async (paths: string[], o: HintOpts) => {
      const warmers = o.to.length > 0 ? o.to : ['127.0.0.1:4950'];
      if ((o.viewer === undefined) === (o.colo === undefined)) throw new InvalidArgumentError('give exactly one of --viewer or --colo');
      const key = o.keyFile ? readFileSync(o.keyFile, 'utf8').trim() : process.env.HEARTH_HINT_KEY;
      if ((o.keyId === undefined) !== (key === undefined))
        throw new InvalidArgumentError('--key-id needs a key (--key-file or HEARTH_HINT_KEY), and a key needs --key-id');
      if (o.check) {
        const problems = hintProblems({ paths, viewer: o.viewer, colo: o.colo, kid: o.keyId }, loadWarmerConfig(o.warmerConfig));
        if (problems.length > 0) {
          for (const p of problems) process.stderr.write(`hearth hint: the warmer would drop this: ${p}\n`);
          process.exitCode = 2;
          return;
        }
      }
      const errors: string[] = [];
      const hinter = createHinter({ warmers, keyId: o.keyId, key, onError: (e) => errors.push(e.message) });
      const variant = { accept: o.accept, format: o.format };
      hinter.hint(o.viewer !== undefined ? { paths, viewer: o.viewer, ...variant } : { paths, colo: o.colo, ...variant });
      await hinter.close();
      const s = hinter.stats();
      process.stdout.write(`${JSON.stringify({ warmers, ...s })}\n`);
      for (const e of errors) process.stderr.write(`hearth hint: ${e}\n`);
      const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
      if (s.sendErrors > 0 || dropped > 0 || s.datagrams === 0) process.exitCode = 1;
    });
}
