/**
 * Run by `npm run bench -- store` with `--expose-gc`, in a process of its own: opens a
 * volumes store and prints the restart time and what the index costs this process
 * (heap, external and array-buffer memory after GC, against the same process before).
 */
import { VolumeEngine } from '../store/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
const used = (): number => {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const dir = process.argv[2]!;
const before = used();
const t0 = performance.now();
const engine = await VolumeEngine.open({ dir, minFreeBytes: 0 });
const restartMs = performance.now() - t0;
const bytes = used() - before;
const { objects } = await engine.stats();
await engine.close();
process.stdout.write(`${JSON.stringify({ bytes, restartMs, objects })}\n`);
