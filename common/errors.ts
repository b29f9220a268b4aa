/**
 * Hearth's errors: one base class with a stable code, so logs, tests and scripts match
 * codes rather than messages, and the CLI turns every one into the same exit status.
 */
export const ERROR_CODES = {
  /** A config, flag, message or file that does not pass its schema. */
  HEARTH_ERR_INVALID: 2,
  /** Another run holds the lock (a lossless batch on the same store). */
  HEARTH_ERR_LOCKED: 3,
  /** A tool that checks (hearth-jxl, djxl) could not run: no verdict on any file. */
  HEARTH_ERR_VERIFIER: 4,
  /** A stored file failed its integrity check. */
  HEARTH_ERR_INTEGRITY: 5,
  /** Not a decodable JPEG. */
  HEARTH_ERR_CORRUPT_IMAGE: 6,
  /** A path that leads out of the store. */
  HEARTH_ERR_STORE_ESCAPE: 7,
  /** A Kafka message that can never succeed (it goes to the dead-letter topic). */
  HEARTH_ERR_PERMANENT: 8,
  /** nginx refused a config or would not start or stop. */
  HEARTH_ERR_NGINX: 9,
  /** The local Kafka broker would not start or stop. */
  HEARTH_ERR_KAFKA_BROKER: 10,
  /** A store path that is not a regular file (a FIFO, a device, a directory, a socket): never read. */
  HEARTH_ERR_NOT_A_FILE: 11,
  /** A store file over the configured size cap: never read into memory. */
  HEARTH_ERR_TOO_LARGE: 12,
  /** No object under a store path. */
  HEARTH_ERR_NOT_FOUND: 13,
  /** The store refuses writes: its disk is at the configured reserve (reads go on). */
  HEARTH_ERR_STORE_FULL: 14,
  /** Two store keys with one 64-bit hash (about once in 10^11 puts at 10^8 objects): the second is refused. */
  HEARTH_ERR_KEY_COLLISION: 15,
} as const;
export type HearthErrorCode = keyof typeof ERROR_CODES;

export class HearthError extends Error {
  constructor(
    readonly code: HearthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** The CLI's exit status for this error. */
  get exitCode(): number {
    return ERROR_CODES[this.code];
  }
}
