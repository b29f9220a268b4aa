/**
 * JPEG XL files that hold a JPEG (cjxl's lossless JPEG transcode): make one, reconstruct
 * the JPEG, verify a reconstruction against the original. The lossless tier, the scrub
 * and the origin all go through here, with bytes: a .jxl is a store object (a file, a
 * needle in a volume, an object behind HTTP), never a path the tools are handed. Where
 * a tool only takes files (cjxl, djxl), they are temp files outside any store.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NATIVE_HELPERS, inToolTemp, nativePath, runTied, runTiedBuffer, sweepToolTemps } from '../common/index.js';
import { HearthError } from '../common/index.js';

const TEMP_PREFIX = 'hearth-jxl-';

const inTemp = <T>(fn: (dir: string) => Promise<T>): Promise<T> => inToolTemp(TEMP_PREFIX, fn);

/** Removes the temp directories of processes that no longer run (a kill -9 skips `inTemp`'s cleanup); how many. */
export const sweepJxlTemps = (): Promise<number> => sweepToolTemps(TEMP_PREFIX);

/** The JPEG a .jxl holds, reconstructed by djxl: the reference tool, and the tests' independent check. */
export function djxlReconstruct(jxl: Buffer): Promise<Buffer> {
  return inTemp(async (dir) => {
    await writeFile(join(dir, 'in.jxl'), jxl);
    await runTied('djxl', [join(dir, 'in.jxl'), join(dir, 'out.jpg'), '--num_threads=1'], { maxBuffer: 1 << 20 });
    return readFile(join(dir, 'out.jpg'));
  });
}

/**
 * cjxl's lossless JPEG transcode (reconstruction data kept). Rejects with the tool's
 * error (exit status and stderr) when cjxl refuses the input: that is a verdict on the
 * bytes (not a JPEG cjxl can transcode), which the caller records.
 */
export function transcodeJpeg(jpeg: Buffer, effort = 3): Promise<Buffer> {
  return inTemp(async (dir) => {
    await writeFile(join(dir, 'in.jpg'), jpeg);
    await runTied('cjxl', [join(dir, 'in.jpg'), join(dir, 'out.jxl'), `--effort=${effort}`, '--lossless_jpeg=1', '--num_threads=1', '--quiet'], {
      maxBuffer: 1 << 20,
    });
    return readFile(join(dir, 'out.jxl'));
  });
}

/**
 * `hearth-jxl`, which infra/setup.sh builds from image/native/hearth-jxl.c: libjxl's
 * own decoder with an output buffer sized up front, 3× faster than djxl 0.7 (see the C
 * file). `HEARTH_JXL` points elsewhere or is `off` (common/native.ts); where it is missing, djxl does the job.
 */
export function nativeJxl(): string | undefined {
  return nativePath(NATIVE_HELPERS.jxl);
}

/**
 * The JPEG a .jxl holds, unchecked (serving code wants `reconstructChecked`, in
 * image/jxl-digest.ts). `expectedBytes`, where the caller knows the original's length,
 * sizes the decoder's buffer so the work is done once.
 */
export async function reconstruct(jxl: Buffer, expectedBytes?: number): Promise<Buffer> {
  const native = nativeJxl();
  if (!native) return djxlReconstruct(jxl);
  // A length far beyond what the .jxl can hold (a damaged digest) is no hint worth a buffer that size.
  const hint = expectedBytes && expectedBytes <= 4 * jxl.length + 65536 ? [String(expectedBytes)] : [];
  const args = ['reconstruct', '-', ...hint];
  const { stdout } = await runTiedBuffer(native, args, { maxBuffer: 512 << 20, input: jxl });
  return stdout;
}

/** What a failed child process wrote to stderr, as text (execFile gives a string or a Buffer). */
export function stderrText(err: unknown): string {
  const e = (err as { stderr?: unknown }).stderr;
  return typeof e === 'string' ? e : Buffer.isBuffer(e) ? e.toString('utf8') : '';
}

/** A verifier that could not run: not a verdict on the file, so nothing may be recorded against it. */
export class VerifierError extends HearthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HEARTH_ERR_VERIFIER', message, options);
  }
}

/**
 * Whether the decoder's failure is its verdict on the input (true) rather than its own
 * trouble. hearth-jxl and djxl both exit 1 for a file they cannot decode; 2 is
 * hearth-jxl's I/O error, 126/127 come from setpriv's exec of a missing tool, and a
 * signal is a crash or a kill.
 */
export function isDecoderVerdict(err: unknown): boolean {
  return (err as { code?: unknown }).code === 1;
}

/**
 * Whether `jxl` reconstructs `original` byte for byte. Throws VerifierError when the
 * verifier itself failed (missing, crashed, I/O error): a broken tool must stop the
 * batch, not write every original into the ledger as a mismatch.
 */
export async function reconstructs(jxl: Buffer, original: Buffer): Promise<boolean> {
  try {
    return (await reconstruct(jxl, original.length)).equals(original);
  } catch (err) {
    if (isDecoderVerdict(err)) return false;
    const e = err as { code?: unknown; signal?: unknown };
    throw new VerifierError(
      `${nativeJxl() ? 'hearth-jxl' : 'djxl'} could not verify a .jxl (${String(e.code ?? e.signal)}): ${stderrText(err).trim().slice(0, 200)}`,
      { cause: err },
    );
  }
}
