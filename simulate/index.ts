/** The public face of `simulate/`: what other parts of Hearth may use. */
export * from './simulate.js';
export * from './target.js';
