/** The public face of `origin/`: what other parts of Hearth may use. */
export * from './metrics.js';
export * from './server.js';
export * from './config.js';
