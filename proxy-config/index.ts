/** The public face of `proxy-config/`: what other parts of Hearth may use. */
export * from './certs.js';
export * from './nginx.js';
export * from './render.js';
