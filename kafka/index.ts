/** The public face of `kafka/`: what other parts of Hearth may use. */
export * from './broker.js';
export * from './cluster.js';
export * from './client.js';
export * from './config-schema.js';
export * from './messages.js';
export * from './metrics.js';
export * from './worker.js';
export * from './producer.js';
