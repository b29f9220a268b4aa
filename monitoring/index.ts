/** The public face of `monitoring/`: Prometheus config and Hearth's rules. */
export * from './prometheus-config.js';
