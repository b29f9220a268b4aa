import { InvalidArgumentError, type Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { loadUploadConfig, uploadFiles } from '../../upload/index.js';
import { imageIdArg, intArg } from '../args.js';
import { BROKERS_FLAG, configuredCommand, STORE_FLAG } from '../service-command.js';

export function registerUpload(program: Command): void {
  configuredCommand(
    program,
    {
      name: 'upload',
      description:
        'store originals (checked to be whole JPEGs, written atomically, never replacing another) and announce each on hearth.images.uploaded; one JSON line per image',
      configHelp: "upload config (JSON); default: the local stack's store service, the local broker",
      flags: [
        STORE_FLAG,
        BROKERS_FLAG,
        {
          flags: '--partitions <n>',
          description: 'partitions of hearth.images.uploaded if it must be created',
          path: 'kafka.partitions',
          parse: intArg(1, 1024),
        },
      ],
      load: loadUploadConfig,
      options: (cmd) =>
        cmd
          .argument('<files...>', 'JPEG files')
          .option('--id <id>', 'the image id (one file only; default: a new one)', imageIdArg)
          .option(
            '--keep-location',
            'serve the original with its location metadata (GPS, place names); by default it is served without (the stored original is byte-exact either way)',
          ),
    },
    async (c, opts, args) => {
      const files = args[0] as string[];
      if (opts.id !== undefined && files.length !== 1) throw new InvalidArgumentError('--id names one image: give one file with it');
      await uploadFiles(c, files, {
        id: opts.id as string | undefined,
        keepLocation: opts.keepLocation === true,
        log: createLogger('upload', c.log.level, true),
        onAnnounced: (u) => process.stdout.write(`${JSON.stringify(u)}\n`),
      });
    },
  );
}
