export { createHinter, parseHostPort } from './hinter.js';
export type { Hinter, HinterOptions, HintInput, HinterStats, HintDropReason } from './hinter.js';
export { Rendezvous, fnv1a32, fmix32 } from './rendezvous.js';
export { WIRE_VERSION, MAX_DATAGRAM_BYTES, MAX_PATHS_PER_HINT, SIG_MEMBER, SIG_CHARS, COLO_NAME, KEY_ID, computeSignature } from './wire.js';
export {
  FORMAT_CLASSES,
  VARIANT_FORMATS,
  DEFAULT_FORMAT_CLASS,
  FORMAT_MEDIA_TYPES,
  FORMAT_ACCEPT_PATTERNS,
  CLASS_ACCEPT,
  formatClass,
  isFormatClass,
} from './format-class.js';
export type { FormatClass, VariantFormat } from './format-class.js';
