/**
 * The format class: which encoding of an image size a client gets, decided from its
 * `Accept` header by this one definition, which every part shares: the caches (an nginx
 * `map` rendered from these patterns), the origin, api-hook and the warmer. A cache keys a
 * size by path and class, never by the raw `Accept`, so one cached object serves every
 * client of its class and no client of another.
 *
 * Only a type named explicitly counts: `image/*` and `*\/*` say nothing about AVIF (a
 * Safari 15 sends `image/*` and cannot show it; thumbor issue 1746). A type with `q=0` is
 * refused. The patterns are written in the syntax JavaScript and PCRE (nginx) read the
 * same way, so the map and this function cannot disagree; a test runs both on the same
 * `Accept` strings.
 */

/** Best first: a client gets the first class whose pattern its `Accept` matches, else `jpeg`. */
export const FORMAT_CLASSES = ['avif', 'webp', 'jpeg'] as const;
export type FormatClass = (typeof FORMAT_CLASSES)[number];

/** What every client can show: the class of a client that accepts nothing better (and of a hint that names none). */
export const DEFAULT_FORMAT_CLASS: FormatClass = 'jpeg';

export const FORMAT_MEDIA_TYPES: Readonly<Record<FormatClass, string>> = { avif: 'image/avif', webp: 'image/webp', jpeg: 'image/jpeg' };

/**
 * `type` named as one element of an `Accept` list, not refused with `q=0` (in any of its
 * parameters' places); case-insensitive, as media types are.
 */
function acceptsPattern(type: string): string {
  const t = type.replace(/[/+.]/g, (c) => `\\${c}`);
  return `(?:^|,)\\s*${t}\\s*(?:,|$|;(?!(?:[^,]*;)?\\s*q\\s*=\\s*0(?:\\.0*)?\\s*(?:[;,]|$)))`;
}

/** The classes better than `jpeg`, in order of preference: the encodings made from a size's resize. */
export type VariantFormat = Exclude<FormatClass, 'jpeg'>;
export const VARIANT_FORMATS: readonly VariantFormat[] = FORMAT_CLASSES.filter((f): f is VariantFormat => f !== DEFAULT_FORMAT_CLASS);

/** The pattern of each class better than `jpeg`, in order of preference (the nginx map's regexes, `~*`). */
export const FORMAT_ACCEPT_PATTERNS: readonly { readonly format: VariantFormat; readonly pattern: string }[] = VARIANT_FORMATS.map((format) => ({
  format,
  pattern: acceptsPattern(FORMAT_MEDIA_TYPES[format]),
}));

const compiled = FORMAT_ACCEPT_PATTERNS.map((p) => ({ format: p.format, re: new RegExp(p.pattern, 'i') }));

/** The class of a client that sent this `Accept` header (none: `jpeg`). */
export function formatClass(accept: string | undefined): FormatClass {
  if (accept) for (const c of compiled) if (c.re.test(accept)) return c.format;
  return DEFAULT_FORMAT_CLASS;
}

export const isFormatClass = (s: unknown): s is FormatClass => typeof s === 'string' && (FORMAT_CLASSES as readonly string[]).includes(s);

/**
 * The `Accept` a request sends on behalf of a class: a warm push, and the cache's request
 * to the origin (which so never sees a viewer's raw header). Its class is the class itself.
 */
export const CLASS_ACCEPT: Readonly<Record<FormatClass, string>> = {
  avif: 'image/avif,image/webp,image/jpeg',
  webp: 'image/webp,image/jpeg',
  jpeg: 'image/jpeg',
};
