/** The public face of `monitoring/`: Prometheus config, Hearth's rules, the cache-log exporter. */
export * from './prometheus-config.js';
export * from './cache-logs.js';
