/**
 * JPEG XL files that hold a JPEG (cjxl's lossless JPEG transcode): reconstruct the JPEG,
 * verify a reconstruction against the original. The lossless tier, the origin and the
 * tools all go through here.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTied, runTiedBuffer } from '../common/index.js';
import { HearthError } from '../common/index.js';

/** The JPEG a .jxl holds, reconstructed by djxl: the reference tool, and the tests' independent check. */
export async function djxlReconstruct(jxl: string): Promise<Buffer> {
  // Outside the store: a concurrent run cleaning up leftovers must never see it.
  const out = join(tmpdir(), `hearth-djxl-${process.pid}-${Math.random().toString(36).slice(2)}.jpg`);
  try {
    await runTied('djxl', [jxl, out, '--num_threads=1'], { maxBuffer: 1 << 20 });
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}

/**
 * `hearth-jxl`, which infra/setup.sh builds from image/native/hearth-jxl.c: libjxl's
 * own decoder with an output buffer sized up front, 3× faster than djxl 0.7 (see the C
 * file). `HEARTH_JXL` points elsewhere; where it is missing, djxl does the job.
 */
export function nativeJxl(): string | undefined {
  const bin = process.env.HEARTH_JXL ?? fileURLToPath(new URL('../../.cache/bin/hearth-jxl', import.meta.url));
  return existsSync(bin) ? bin : undefined;
}

/** The JPEG a .jxl holds, unchecked. Serving code wants `reconstructChecked` (image/jxl-digest.ts). */
export async function reconstruct(jxl: string): Promise<Buffer> {
  const native = nativeJxl();
  if (!native) return djxlReconstruct(jxl);
  const { stdout } = await runTiedBuffer(native, ['reconstruct', jxl], { maxBuffer: 512 << 20 });
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
 * Whether a .jxl reconstructs the original file byte for byte. Throws VerifierError when
 * the verifier itself failed (missing, crashed, I/O error): a broken tool must stop the
 * batch, not write every original into the ledger as a mismatch.
 */
export async function reconstructs(jxl: string, originalFile: string, original?: Buffer): Promise<boolean> {
  const native = nativeJxl();
  const failed = (tool: string) => (err: { code?: unknown; signal?: unknown; stderr?: unknown }): never => {
    throw new VerifierError(`${tool} could not verify ${jxl} (${String(err.code ?? err.signal)}): ${stderrText(err).trim().slice(0, 200)}`);
  };
  if (native) {
    // Exit 0: identical; 1: different, or nothing to reconstruct; anything else: the tool failed.
    return runTied(native, ['verify', jxl, originalFile], { maxBuffer: 1 << 16 }).then(
      () => true,
      (err: { code?: unknown }) => (err.code === 1 ? false : failed('hearth-jxl')(err)),
    );
  }
  const bytes = original ?? (await readFile(originalFile));
  // djxl exits 1 for a file it cannot decode as for any other failure; only a missing (126/127 from setpriv's exec) or killed djxl is told apart.
  return djxlReconstruct(jxl).then(
    (jpeg) => jpeg.equals(bytes),
    (err: { code?: unknown; signal?: unknown }) => (err.code === 'ENOENT' || err.code === 126 || err.code === 127 || err.signal ? failed('djxl')(err) : false),
  );
}
