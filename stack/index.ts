/** The public face of `stack/`: what other parts of Hearth may use. */
export * from './latency-proxy.js';
export * from './stack.js';
export * from './daemons.js';
export * from './test-hosts.js';
