/** The public face of `takedown/`: taking photos back (delete, the purger, the audit). */
export * from './audit.js';
export * from './config.js';
export * from './delete.js';
export * from './metrics.js';
export * from './purger.js';
export * from './requests.js';
export * from './secrets.js';
