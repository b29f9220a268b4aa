/** The public face of `deploy/`: what other parts of Hearth may use. */
export * from './render.js';
export * from './write.js';
