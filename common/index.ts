/** The public face of `common/`: what other parts of Hearth may use. */
export * from './atomic-write.js';
export * from './child.js';
export * from './cli-path.js';
export * from './config.js';
export * from './docs.js';
export * from './http-util.js';
export * from './logger.js';
export * from './metrics.js';
export * from './pid.js';
export * from './prom-text.js';
export * from './random.js';
export * from './run-lock.js';
export * from './schema.js';
export * from './status-server.js';
export * from './textfile-metrics.js';
export * from './service.js';
export * from './errors.js';
