/** The public face of `netns/`: hosts as network namespaces on one machine. */
export * from './network.js';
