/**
 * The `dir` driver: an object per file under one root, its key the path below the root
 * (`/photos/123/12345_z.jpg` is `<root>/photos/123/12345_z.jpg`), which is what nginx
 * can serve straight from disk. Writes are atomic and durable (a temp file in
 * `<root>/.hearth-tmp`, fsync, rename, fsync the directory); a failed write removes its
 * temp file at once, and `sweep` removes what a crashed writer left.
 */
import { constants, type Stats } from 'node:fs';
import { access, link, mkdir, open, readdir, readFile, realpath, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { placeTemp, sweepTempFiles, syncPath, tempPathFor, writeAtomic, writeTemp } from '../common/index.js';
import { appendDamage, type DamageFinding } from './damage-report.js';
import {
  checkMeta,
  DEFAULT_MAX_READ_BYTES,
  ObjectNotFoundError,
  StoreEscapeError,
  UnreadableObjectError,
  type ListedObject,
  type ObjectInfo,
  type ObjectMeta,
  type ObjectStore,
} from './object-store.js';

/** The store's own directories, never objects: its temp files, and tiers' state kept beside the store (`.hearth-identity`). */
const PRIVATE = /(?:^|\/)\.hearth-/;

/**
 * An absolute file for a store path; refuses anything that would leave the root. For the
 * `dir` driver and the tiers not yet moved onto `ObjectStore` only.
 */
export function storeFile(root: string, path: string): string {
  const base = resolve(root);
  const file = resolve(join(base, path));
  if (!file.startsWith(base + sep)) throw new StoreEscapeError(`store path ${JSON.stringify(path)} leaves the store`);
  return file;
}

const kindOf = (st: Stats): string =>
  st.isFIFO()
    ? 'a FIFO'
    : st.isDirectory()
      ? 'a directory'
      : st.isSocket()
        ? 'a socket'
        : st.isCharacterDevice()
          ? 'a character device'
          : st.isBlockDevice()
            ? 'a block device'
            : 'not a regular file';

/** `length` bytes from `offset`, fewer where the file ends sooner. */
async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const data = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(data, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? data : data.subarray(0, got);
}

const missing = (err: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

export class DirStore implements ObjectStore {
  readonly driver = 'dir';
  readonly root: string;
  private realRoot: string | undefined;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * An object's metadata: a small JSON file in a private tree that mirrors the store's
   * (`<root>/.hearth-meta/photos/1/100_z.jpg.json`), so nginx, which serves the objects
   * straight from disk, never sees it. Written before the object and removed before an
   * object without metadata replaces it: after a crash between the two, the metadata
   * describes bytes that are not there yet, which is why what Hearth keeps there names
   * the bytes it belongs to (the perceptual marker's `outputSha`, the JPEG XL digest).
   */
  private metaFile(key: string): string {
    return storeFile(join(this.root, '.hearth-meta'), `${key}.json`);
  }

  private async readMeta(key: string): Promise<ObjectMeta> {
    const text = await readFile(this.metaFile(key), 'utf8').catch((err: unknown) => {
      if (missing(err)) return undefined;
      throw err;
    });
    if (text === undefined) return {};
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')) return v as ObjectMeta;
    } catch {
      // fall through: damaged metadata is no metadata
    }
    return {};
  }

  private async writeMeta(key: string, meta: ObjectMeta | undefined): Promise<void> {
    checkMeta(meta);
    if (meta && Object.keys(meta).length) await writeAtomic(this.metaFile(key), Buffer.from(JSON.stringify(meta)), { tmpDir: this.tempDir });
    else await rm(this.metaFile(key), { force: true });
  }

  /** Where every write keeps its temp file: one directory to sweep, not every directory of a tree too large to walk. */
  get tempDir(): string {
    return join(this.root, '.hearth-tmp');
  }

  /** The root exists and this process may write into it. */
  ready(): Promise<true | string> {
    return access(this.root, constants.W_OK).then(
      () => true as const,
      (err: Error) => `store ${this.root} not writable: ${err.message}`,
    );
  }

  reportDamage(finding: DamageFinding): Promise<void> {
    return appendDamage(this.root, finding);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Removes what crashed writers left in the temp directory; how many. */
  sweep(): Promise<number> {
    return sweepTempFiles(this.tempDir);
  }

  /** Only a regular file of at most `maxBytes` (see readOpen). */
  async get(key: string, maxBytes = DEFAULT_MAX_READ_BYTES): Promise<Buffer> {
    return this.readOpen(key, async (fh, size) => {
      if (size > maxBytes)
        throw new UnreadableObjectError('HEARTH_ERR_TOO_LARGE', `store path ${JSON.stringify(key)} is ${size} bytes, over the cap of ${maxBytes}`);
      // Exactly the size fstat saw: a file that grows while it is read cannot push past the cap.
      return readAt(fh, 0, size);
    });
  }

  /**
   * Never through a symbolic link that leads out of the store (one within it is fine);
   * opened without blocking (a FIFO would otherwise hold a thread of libuv's pool until
   * a writer came, and with it every other read of the process); only a regular file,
   * refused before a byte is read.
   */
  private async readOpen(key: string, read: (fh: FileHandle, size: number) => Promise<Buffer>): Promise<Buffer> {
    const file = storeFile(this.root, key);
    let real: string;
    let base: string;
    try {
      // The root's own real path once: it does not move under a running daemon.
      base = this.realRoot ??= await realpath(this.root);
      real = await realpath(file);
    } catch (err) {
      if (missing(err)) throw new ObjectNotFoundError(key);
      throw err;
    }
    if (!real.startsWith(base + sep)) throw new StoreEscapeError(`store path ${JSON.stringify(key)} is a link that leaves the store (to ${real})`);
    const fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new UnreadableObjectError('HEARTH_ERR_NOT_A_FILE', `store path ${JSON.stringify(key)} is ${kindOf(st)}, not a regular file`);
      return await read(fh, st.size);
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(storeFile(this.root, key));
      return st.isFile() ? { size: st.size, modifiedMs: st.mtimeMs, meta: await this.readMeta(key) } : undefined;
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
  }

  async put(key: string, data: Buffer, meta?: ObjectMeta): Promise<void> {
    const file = storeFile(this.root, key);
    await this.writeMeta(key, meta);
    await writeAtomic(file, data, { tmpDir: this.tempDir });
  }

  /** A hard link from the temp file, which fails if the name exists: create-only without a window. */
  async putIfAbsent(key: string, data: Buffer, meta?: ObjectMeta): Promise<boolean> {
    const file = storeFile(this.root, key);
    checkMeta(meta);
    const tmp = await writeTemp(file, data, { tmpDir: this.tempDir });
    try {
      await link(tmp, file);
      await syncPath(dirname(file));
      // Only the creator writes metadata, after it has won: an existing object keeps its own.
      // A crash in between leaves an object without it, which no reader takes for trusted.
      if (meta && Object.keys(meta).length) await this.writeMeta(key, meta);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** A hard link: the bytes stored once, however many keys hold them. */
  async copy(from: string, to: string): Promise<void> {
    const file = storeFile(this.root, to);
    await mkdir(this.tempDir, { recursive: true });
    await mkdir(dirname(file), { recursive: true });
    const tmp = tempPathFor(file, this.tempDir);
    try {
      await link(storeFile(this.root, from), tmp);
    } catch (err) {
      if (missing(err)) throw new ObjectNotFoundError(from);
      throw err;
    }
    try {
      await this.writeMeta(to, await this.readMeta(from));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await placeTemp(tmp, file);
  }

  async delete(key: string): Promise<boolean> {
    const file = storeFile(this.root, key);
    try {
      await rm(file);
    } catch (err) {
      if (missing(err)) return false;
      throw err;
    }
    await syncPath(dirname(file));
    await rm(this.metaFile(key), { force: true });
    return true;
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    // The deepest directory every key of the prefix lies under; keys are filtered by the whole prefix.
    const dir = prefix.slice(0, prefix.lastIndexOf('/') + 1) || '/';
    yield* this.walk(dir === '/' ? this.root : storeFile(this.root, dir), prefix);
  }

  private async *walk(dir: string, prefix: string): AsyncIterable<ListedObject> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
      if (missing(err)) return [];
      throw err;
    });
    const sorted = entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const keyOf = (name: string): string => join(dir, name).slice(this.root.length).split(sep).join('/');
    // Metadata only for the names its mirror directory holds: one readdir, not a failed open per object.
    const dirKey = dir.slice(this.root.length).split(sep).join('/');
    const withMeta = new Set((await readdir(join(this.root, '.hearth-meta', dirKey)).catch(() => [] as string[])).map((n) => n.slice(0, -'.json'.length)));
    const files = sorted.filter((e) => e.isFile() && keyOf(e.name).startsWith(prefix) && !PRIVATE.test(keyOf(e.name)));
    // The files of one directory statted together (a directory of a size ladder holds hundreds): the pool's threads overlap them.
    const listed = await Promise.all(
      files.map(async (e): Promise<ListedObject | undefined> => {
        const key = keyOf(e.name);
        const st = await stat(join(dir, e.name)).catch(() => undefined);
        return st && { key, size: st.size, modifiedMs: st.mtimeMs, meta: withMeta.has(e.name) ? await this.readMeta(key) : {} };
      }),
    );
    const byName = new Map(files.map((e, i) => [e.name, listed[i]]));
    for (const e of sorted) {
      const key = keyOf(e.name);
      if (PRIVATE.test(key)) continue;
      if (e.isDirectory()) {
        // Only directories that can hold keys of the prefix.
        if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix) || key.startsWith(prefix)) yield* this.walk(join(dir, e.name), prefix);
      } else {
        const o = byName.get(e.name);
        if (o) yield o;
      }
    }
  }
}
