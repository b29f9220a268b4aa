/** The public face of `compress/`: what other parts of Hearth may use. */
export * from './config.js';
export * from './lossless.js';
export * from './lossless-metrics.js';
export * from './scrub.js';
export * from './scrub-metrics.js';
export * from './perceptual-worker.js';
export * from './metrics.js';
export * from './lossless-config.js';
