/**
 * Builds the local stack's store from real photographs: each photo yields many
 * distinct images (different crops), each laid out as the Flickr-style ladder
 * `/photos/<dir>/<id>_<size>.jpg`. Cached: a manifest records what was built, and
 * a second run with the same inputs does nothing.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { imagePath, DEFAULT_LADDER } from '../image/index.js';
import { openStore, tierStateDir, type ObjectStore } from '../store/index.js';
import { writeAtomic } from '../common/index.js';

export { imagePath };

/**
 * The sizes the store starts with: the common display sizes of the ladder. The rest
 * (2048, 1600, 800, 500) the resize tier or the origin service make.
 */
export const LADDER = DEFAULT_LADDER.filter((s) => ['b', 'z', 'n', 'm', 'q', 's'].includes(s.name));

export interface CorpusManifest {
  version: 1;
  sources: string[];
  idsPerPhoto: number;
  /** Every URL path in the store. */
  paths: string[];
}

export function findJpegs(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.jpe?g$/i.test(name) && st.size > 0) out.push(p);
    }
  };
  walk(dir);
  return out;
}

export function readManifest(root: string): CorpusManifest | undefined {
  try {
    return JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as CorpusManifest;
  } catch {
    return undefined;
  }
}

async function variant(source: string, k: number, idsPerPhoto: number): Promise<Buffer> {
  const img = sharp(source, { failOn: 'error' }).rotate();
  const { width = 0, height = 0 } = await img.metadata();
  // Crops from 100 % down to 55 % of the frame, sliding across it: distinct images, same photograph.
  const scale = 1 - (0.45 * k) / Math.max(1, idsPerPhoto - 1);
  const w = Math.max(64, Math.floor(width * scale));
  const h = Math.max(64, Math.floor(height * scale));
  const left = Math.floor(((width - w) * ((k * 37) % 101)) / 100);
  const top = Math.floor(((height - h) * ((k * 61) % 101)) / 100);
  return img.extract({ left, top, width: w, height: h }).resize(1024, 1024, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 90 }).toBuffer();
}

export interface BuildOptions {
  sources: string[];
  /** The store: a directory, or a store service's address. */
  out: string;
  /** Where the manifest is kept (default: the directory store's root; required with a store service). */
  stateDir?: string;
  idsPerPhoto: number;
  /** Images built at once (each uses one libvips thread). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function buildCorpus(o: BuildOptions): Promise<CorpusManifest> {
  const sources = [...o.sources].sort();
  const state = tierStateDir(o.out, o.stateDir, 'the corpus builder');
  const cached = readManifest(state);
  if (cached && cached.idsPerPhoto === o.idsPerPhoto && JSON.stringify(cached.sources) === JSON.stringify(sources)) return cached;
  sharp.concurrency(1);
  const jobs = sources.flatMap((src, p) => Array.from({ length: o.idsPerPhoto }, (_, k) => ({ src, k, id: 100000 + p * 1000 + k })));
  const paths: string[] = [];
  let done = 0;
  const work = async (job: (typeof jobs)[number], store: ObjectStore): Promise<void> => {
    const base = await variant(job.src, job.k, o.idsPerPhoto);
    for (const step of LADDER) {
      const path = imagePath(job.id, step.name);
      const resized = step.square
        ? sharp(base).resize(step.size, step.size, { fit: 'cover', kernel: 'lanczos3' })
        : sharp(base).resize(step.size, step.size, { fit: 'inside', kernel: 'lanczos3', withoutEnlargement: true });
      await store.put(
        path,
        await resized
          .sharpen()
          .jpeg({ quality: 85, progressive: step.size >= 320 })
          .toBuffer(),
      );
      paths.push(path);
    }
    o.onProgress?.(++done, jobs.length);
  };
  const queue = [...jobs];
  const store = openStore(o.out);
  try {
    await Promise.all(
      Array.from({ length: o.concurrency ?? 2 }, async () => {
        for (let job = queue.shift(); job; job = queue.shift()) await work(job, store);
      }),
    );
  } finally {
    await store.close();
  }
  const manifest: CorpusManifest = { version: 1, sources, idsPerPhoto: o.idsPerPhoto, paths: paths.sort() };
  await mkdir(state, { recursive: true });
  await writeAtomic(join(state, 'manifest.json'), Buffer.from(JSON.stringify(manifest)));
  return manifest;
}
