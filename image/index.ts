/** The public face of `image/`: what other parts of Hearth may use. */
export * from './backend.js';
export * from './cpu-backend.js';
export * from './etag.js';
export * from './jxl.js';
export * from './jxl-digest.js';
export * from './location.js';
export * from './icc.js';
export * from './original.js';
export { hasGainMap, isHeif, readHeif } from './heif.js';
export { withProfileAndExifOf } from './jpeg-segments.js';
export * from './ladder.js';
export * from './perceptual.js';
export * from './store.js';
export * from './secrets.js';
export * from './encode-config.js';
export * from './verdicts.js';
export * from './takedown.js';
export * from './formats.js';
