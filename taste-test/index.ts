/** The public face of `taste-test/`: what other parts of Hearth may use. */
export * from './answers.js';
export * from './pairs.js';
export * from './server.js';
export * from './stats.js';
export * from './config.js';
export * from './metrics.js';
