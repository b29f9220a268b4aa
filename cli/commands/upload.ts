import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { TOPICS, connectProducer } from '../../kafka/index.js';
import { checkJpeg, loadUploadConfig, storeOriginal, uploadedEvent } from '../../upload/index.js';
import { imageIdArg, intArg } from '../args.js';
import { BROKERS_FLAG, configuredCommand, STORE_FLAG } from '../service-command.js';

export function registerUpload(program: Command): void {
  configuredCommand(
    program,
    {
      name: 'upload',
      description: 'store originals (checked to be whole JPEGs, written atomically, never replacing another) and announce each on hearth.images.uploaded; one JSON line per image',
      configHelp: 'upload config (JSON); default: the local stack\'s store service, the local broker',
      flags: [
        STORE_FLAG,
        BROKERS_FLAG,
        { flags: '--partitions <n>', description: 'partitions of hearth.images.uploaded if it must be created', path: 'kafka.partitions', parse: intArg(1, 1024) },
      ],
      load: loadUploadConfig,
      options: (cmd) => cmd.argument('<files...>', 'JPEG files').option('--id <id>', 'the image id (one file only; default: a new one)', imageIdArg).option('--keep-location', 'serve the original with its location metadata (GPS, place names); by default it is served without (the stored original is byte-exact either way)'),
    },
    async (c, opts, args) => {
      const files = args[0] as string[];
      const id = opts.id as string | undefined;
      if (id !== undefined && files.length !== 1) throw new InvalidArgumentError('--id names one image: give one file with it');
      const log = createLogger('upload', c.log.level, true);
      // Every file is checked before any is stored, and all are stored before any is
      // announced: a bad file anywhere in the list leaves nothing behind.
      const checked = [];
      for (const f of files) {
        const data = await readFile(f);
        checked.push({ file: f, data, size: await checkJpeg(data, basename(f)) });
      }
      const stored = [];
      for (const one of checked) stored.push({ file: one.file, ...(await storeOriginal(c.store, one.data, one.size, basename(one.file), id, { keepLocation: opts.keepLocation === true })) });
      const producer = await connectProducer(c.kafka.brokers, 'hearth-upload', log, { [TOPICS.uploaded]: c.kafka.partitions });
      try {
        for (const s of stored) {
          const e = uploadedEvent(s);
          const [meta] = await producer.send({ topic: e.topic, messages: [{ key: e.key, value: JSON.stringify(e.value) }] });
          process.stdout.write(`${JSON.stringify({ ...s, topic: e.topic, partition: meta?.partition, offset: meta?.baseOffset })}\n`);
        }
      } finally {
        await producer.disconnect();
      }
    },
  );
}
