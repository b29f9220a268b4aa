/** The public face of `race/`: what other parts of Hearth may use. */
export * from './config.js';
export * from './join.js';
export * from './metrics.js';
export * from './service.js';
