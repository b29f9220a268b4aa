/** The store service: a volumes engine behind HTTP (`hearth store serve`). */
export * from './config.js';
export * from './metrics.js';
export * from './server.js';
export * from './report.js';
