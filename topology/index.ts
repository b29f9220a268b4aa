/** The public face of `topology/`: what other parts of Hearth may use. */
export * from './topology.js';
export * from './cache-log.js';
export * from './hosts.js';
