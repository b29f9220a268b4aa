/** The public face of `store/`: the one way any tier reaches stored objects. */
export * from './dir-store.js';
export * from './object-store.js';
export * from './open.js';
export * from './volumes/engine.js';
export * from './http-store.js';
export * from './s3-store.js';
export { MAX_VOLUME_BYTES } from './volumes/volume-file.js';
export * from './copy-store.js';
export * from './damage-report.js';
