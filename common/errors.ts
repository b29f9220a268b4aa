/**
 * Hearth's errors: one base class with a stable code, so logs, tests and scripts match
 * codes rather than messages, and the CLI turns every one into the same exit status.
 */
export const ERROR_CODES = {
  HEARTH_ERR_INVALID: { exit: 2, meaning: 'A config, flag, message or file that does not pass its schema.' },
  HEARTH_ERR_LOCKED: { exit: 3, meaning: 'Another run holds the lock (a lossless batch on the same store).' },
  HEARTH_ERR_VERIFIER: { exit: 4, meaning: 'A tool that checks (hearth-jxl, djxl) could not run: no verdict on any file.' },
  HEARTH_ERR_INTEGRITY: { exit: 5, meaning: 'A stored file failed its integrity check.' },
  HEARTH_ERR_CORRUPT_IMAGE: { exit: 6, meaning: 'Not a decodable JPEG.' },
  HEARTH_ERR_STORE_ESCAPE: { exit: 7, meaning: 'A path that leads out of the store.' },
  HEARTH_ERR_PERMANENT: { exit: 8, meaning: 'A Kafka message that can never succeed (it goes to the dead-letter topic).' },
  HEARTH_ERR_NGINX: { exit: 9, meaning: 'nginx refused a config or would not start or stop.' },
  HEARTH_ERR_KAFKA_BROKER: { exit: 10, meaning: 'The local Kafka broker would not start or stop.' },
  HEARTH_ERR_NOT_A_FILE: { exit: 11, meaning: 'A store path that is not a regular file (a FIFO, a device, a directory, a socket): never read.' },
  HEARTH_ERR_TOO_LARGE: { exit: 12, meaning: 'A store file over the configured size cap: never read into memory.' },
  HEARTH_ERR_NOT_FOUND: { exit: 13, meaning: 'No object under a store path.' },
  HEARTH_ERR_STORE_FULL: { exit: 14, meaning: 'The store refuses writes: its disk is at the configured reserve (reads go on).' },
  HEARTH_ERR_KEY_COLLISION: { exit: 15, meaning: 'Two store keys with one 64-bit hash (about once in 10^11 puts at 10^8 objects): the second is refused.' },
  HEARTH_ERR_STORE_UNAVAILABLE: {
    exit: 16,
    meaning:
      'The object store (S3) failed to answer after its retries: timed out, refused the connection, or answered 5xx. Transient: the Kafka tiers try again.',
  },
  HEARTH_ERR_CEPH: { exit: 17, meaning: 'The local Ceph cluster (`hearth ceph up`) would not start, or a Ceph tool failed.' },
  HEARTH_ERR_NETNS: { exit: 18, meaning: 'A test host (a network namespace) could not be made, reached or removed: `ip` refused.' },
} as const satisfies Record<string, { exit: number; meaning: string }>;
export type HearthErrorCode = keyof typeof ERROR_CODES;

/**
 * Codes that end no command, so have no exit status: why a push failed, as its report
 * says it (the warmer's `hearth_warmer_pushes_total{outcome="error"}`, its logs), and the
 * native addon's own failures. Node's errno names (ECONNREFUSED, …) and undici's
 * (UND_ERR_*) appear in the same places as they are.
 */
export const REASON_CODES = {
  HEARTH_ERR_CONNECT_TIMEOUT: 'a push: the proxy did not take the connection in time',
  HEARTH_ERR_TIMEOUT: 'a push: no whole answer in time',
  HEARTH_ERR_CLOSED: 'a push: the proxy closed the connection before the answer ended; or the push engine is closed',
  HEARTH_ERR_BAD_RESPONSE: 'a push: the answer was not HTTP',
  HEARTH_ERR_NO_CONNECTION: 'a push: no connection to the proxy could be had',
  HEARTH_ERR_NOT_OPEN: 'a push: the push client was not open yet',
  HEARTH_ERR_PATH: 'a push: a path that can never go on a request line (the path policy refuses those before)',
  HEARTH_ERR_NATIVE: 'the native push engine: a Node-API or OpenSSL call failed',
} as const;

/** Every code, with its exit status where it has one: the table docs/architecture.md shows. */
export function errorCodesMarkdown(): string {
  const rows = [
    ...Object.entries(ERROR_CODES).map(([code, e]) => `| \`${code}\` | ${e.exit} | ${e.meaning} |`),
    ...Object.entries(REASON_CODES).map(([code, meaning]) => `| \`${code}\` | none | ${meaning} |`),
  ];
  return ['| code | exit status | meaning |', '|---|---|---|', ...rows].join('\n');
}

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
    return ERROR_CODES[this.code].exit;
  }
}
