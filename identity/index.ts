/** The public face of `identity/`: what other parts of Hearth may use. */
export * from './exact-index.js';
export * from './fingerprint.js';
export * from './ledger-index.js';
export * from './pdq.js';
export * from './hamming-index.js';
export * from './blocklist.js';
export * from './config.js';
export * from './ledger.js';
export * from './metrics.js';
export * from './worker.js';
export * from './native-match.js';
