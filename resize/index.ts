/** The public face of `resize/`: what other parts of Hearth may use. */
export * from './config.js';
export * from './metrics.js';
export * from './worker.js';
