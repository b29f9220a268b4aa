/** The public face of `backfill/`: what other parts of Hearth may use. */
export * from './backfill.js';
export * from './config.js';
