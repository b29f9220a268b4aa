/**
 * `npm run bench [-- name ...]`: runs the named benchmarks (default: all). Each ends
 * with one line of JSON holding its figures, for scripts.
 */
import { benchCompress } from './compress.js';
import { benchFormats } from './formats.js';
import { benchIdentity } from './identity.js';
import { benchOrigin } from './origin.js';
import { benchPipeline } from './pipeline.js';
import { benchResize } from './resize.js';
import { benchSizes } from './sizes.js';
import { benchPush } from './push.js';
import { benchStore } from './store.js';
import { benchTakedown } from './takedown.js';
import { benchWarmer } from './warmer.js';

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  warmer: benchWarmer,
  push: benchPush,
  resize: benchResize,
  compress: benchCompress,
  identity: benchIdentity,
  store: benchStore,
  sizes: benchSizes,
  takedown: benchTakedown,
  origin: benchOrigin,
  pipeline: benchPipeline,
  formats: benchFormats,
};

const names = process.argv.slice(2);
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}\n`);
  process.exit(2);
}
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  const figures = await (BENCHES[name] as () => Promise<Record<string, unknown>>)();
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}
