/**
 * A write load on a volumes store, run as its own process so a test can kill it with -9:
 * puts of fresh keys (bytes derived from the key, so a reader can check them without a
 * copy) and deletes of acknowledged ones, 16 at a time. It prints `put KEY` once a put is
 * acknowledged, `delete? KEY` before a delete is sent and `delete KEY` once it is
 * acknowledged; the killer holds it to exactly those.
 *
 *     node volume-writer.js DIR SEED [VOLUME_BYTES]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../common/random.js';
import { VolumeEngine } from '../../store/index.js';

/** The bytes the writer stores under `key`: 1–20 KB, a function of the key alone. */
export function bytesFor(key: string): Buffer {
  const seed = createHash('sha256').update(key).digest();
  const n = 1000 + (seed.readUInt32LE(0) % 19000);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 32) seed.copy(out, i, 0, Math.min(32, n - i));
  out.writeUInt32LE(n, 0);
  return out;
}

export type WriterState = Map<string, 'put' | 'delete?' | 'delete'>;

/**
 * Runs the writer on `dir` `kills` times, each killed with -9 after a random 0–`maxMs` of
 * writing, and calls `afterKill` between runs; what each key's last printed state was.
 */
export async function killWriterRepeatedly(o: {
  dir: string;
  kills: number;
  random: () => number;
  volumeBytes: number;
  maxMs: number;
  afterKill?: () => Promise<void>;
}): Promise<WriterState> {
  const state: WriterState = new Map();
  for (let kill = 0; kill < o.kills; kill++) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), o.dir, String(kill), String(o.volumeBytes)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    await new Promise<void>((resolve) => {
      const ready = setInterval(() => {
        if (text.includes('ready')) {
          clearInterval(ready);
          setTimeout(resolve, 50 + o.random() * o.maxMs);
        }
      }, 5);
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (const line of text.split('\n')) {
      const [op, key] = line.split(' ');
      if (key && (op === 'put' || op === 'delete?' || op === 'delete')) state.set(key, op);
    }
    await o.afterKill?.();
  }
  return state;
}

async function main(): Promise<void> {
  const [dir, seedText, volumeBytes] = process.argv.slice(2);
  const random = seededRandom(Number(seedText));
  const engine = await VolumeEngine.open({ dir: dir!, volumeBytes: Number(volumeBytes ?? 256 * 1024), minFreeBytes: 0 });
  const acked: string[] = [];
  let n = 0;
  const base = 1_000_000 + Number(seedText) * 100_000;
  const one = async (): Promise<void> => {
    for (;;) {
      if (acked.length > 10 && random() < 0.2) {
        const key = acked.splice(Math.floor(random() * acked.length), 1)[0]!;
        process.stdout.write(`delete? ${key}\n`);
        await engine.delete(key);
        process.stdout.write(`delete ${key}\n`);
        continue;
      }
      const id = base + n++;
      const key = `/photos/${Math.floor(id / 100)}/${id}_${'sqtmnzcb'[id % 8]}.jpg`;
      await engine.put(key, bytesFor(key));
      acked.push(key);
      process.stdout.write(`put ${key}\n`);
    }
  };
  process.stdout.write('ready\n');
  await Promise.all(Array.from({ length: 16 }, one));
}

if (process.argv[1]?.endsWith('volume-writer.js')) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
