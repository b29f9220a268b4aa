/** The public face of `dashboard/`: what other parts of Hearth may use. */
export * from './config.js';
export * from './grafana.js';
export * from './metrics.js';
export * from './panels.js';
export * from './server.js';
