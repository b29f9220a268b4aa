/** The public face of `corpus/`: what other parts of Hearth may use. */
export * from './build.js';
