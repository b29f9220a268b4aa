/** The public face of `warmer/`: what other parts of Hearth may use. */
export * from './config.js';
export * from './hint-check.js';
export * from './metrics.js';
export * from './warmer.js';
