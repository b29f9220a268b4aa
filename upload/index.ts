/** The public face of `upload/`: what other parts of Hearth may use. */
export * from './config.js';
export * from './upload.js';
