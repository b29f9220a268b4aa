/** The store's layout: which paths exist and which id each belongs to (reading and writing them is `store/`'s). */

/**
 * Where a photo's objects are kept in the store: a ladder size at
 * `/photos/<dir>/<id>_<size>.jpg`, the original at `/originals/[<dir>/]<id>.jpg`.
 * Everything else in the store (.jxl files, digests, verdicts, secrets, ledgers, locks,
 * sidecars, temp files, the manifest) is the store's own business. PCRE and JavaScript
 * read these the same way; nginx configs are rendered from them.
 */
export const SIZE_PATH = '^/photos/([0-9]+)/([0-9]{1,19})_([a-z]{1,3})\\.jpg$';
export const ORIGINAL_PATH = '^/originals/(?:[0-9]+/)?([0-9]{1,19})\\.jpg$';

/**
 * The paths a photo is served under (image/secrets.ts): a size at
 * `/photos/<dir>/<id>_<secret>_<size>.jpg`, the original at
 * `/originals/<dir>/<id>_<original secret>_o.jpg`, each secret 64 random bits, the
 * original's its own (Flickr's layout). A photo stored before secrets (no secrets record)
 * is still served under its store paths until `hearth secret migrate` gives it secrets.
 */
export const SECRET_SIZE_PATH = '^/photos/([0-9]+)/([0-9]{1,19})_([0-9a-f]{16})_([a-z]{1,3})\\.jpg$';
export const SECRET_ORIGINAL_PATH = '^/originals/([0-9]+)/([0-9]{1,19})_([0-9a-f]{16})_o\\.jpg$';
/** Every path any server of Hearth answers (origin service, origin front, caches, proxy): the four above. */
export const IMAGE_PATH = `^(?:${[SIZE_PATH, ORIGINAL_PATH, SECRET_SIZE_PATH, SECRET_ORIGINAL_PATH].map((p) => p.slice(1, -1)).join('|')})$`;
/** Originals, either layout: every one goes to the origin service. */
export const ANY_ORIGINAL_PATH = `^(?:${[ORIGINAL_PATH, SECRET_ORIGINAL_PATH].map((p) => p.slice(1, -1)).join('|')})$`;

const SECRET_SIZE = new RegExp(SECRET_SIZE_PATH);
const SECRET_ORIGINAL = new RegExp(SECRET_ORIGINAL_PATH);
const SIZE = new RegExp(SIZE_PATH);
const ORIGINAL = new RegExp(ORIGINAL_PATH);

/** What a served path names: the photo, the size (absent: the original), the secret it carries (absent: the layout from before secrets). */
export interface ServedPath {
  id: string;
  size?: string;
  secret?: string;
}

/** A served path read, or undefined when it is none. */
export function parseServedPath(path: string): ServedPath | undefined {
  let m = SECRET_SIZE.exec(path);
  if (m) return { id: m[2] as string, secret: m[3] as string, size: m[4] as string };
  m = SECRET_ORIGINAL.exec(path);
  if (m) return { id: m[2] as string, secret: m[3] as string };
  m = SIZE.exec(path);
  if (m) return { id: m[2] as string, size: m[3] as string };
  m = ORIGINAL.exec(path);
  return m ? { id: m[1] as string } : undefined;
}

/** A size's served path with its photo's secret. */
export const secretImagePath = (id: string, secret: string, size: string): string => `/photos/${fanOut(id)}/${id}_${secret}_${size}.jpg`;
/** The original's served path with its own secret. */
export const secretOriginalPath = (id: string, secret: string): string => `/originals/${fanOut(id)}/${id}_${secret}_o.jpg`;

/** `/photos/<dir>/<id>_<size>.jpg`, with `<dir>` the id without its last two digits (Flickr-like fan-out). */
export function imagePath(id: string | number, size: string): string {
  return `/photos/${fanOut(id)}/${String(id)}_${size}.jpg`;
}

/**
 * Where a size's AVIF or WebP is kept once the origin has made it: beside the size's
 * JPEG, `/photos/<dir>/<id>_<size>.avif|webp`. Never a served path: every encoding of a
 * size is served under the size's one URL, by the client's format class.
 */
export const variantPath = (id: string | number, size: string, format: string): string => imagePath(id, size).replace(/\.jpg$/, `.${format}`);
export const VARIANT_PATH = '^/photos/([0-9]+)/([0-9]{1,19})_([a-z]{1,3})\\.(avif|webp)$';

/** The directory an id's files live in: the id without its last two digits (Flickr-like fan-out). */
const fanOut = (id: string | number): string => (String(id).length > 2 ? String(id).slice(0, -2) : '0');

/** `/originals/<dir>/<id>.jpg`, the same fan-out as the sizes. */
export function originalPath(id: string | number): string {
  return `/originals/${fanOut(id)}/${String(id)}.jpg`;
}

/**
 * Why a message's id and the store path it names disagree (undefined when they agree):
 * a path is only ever the one its id implies, so no message can serve one image's bytes
 * under another image's id.
 */
export function pathMismatch(id: string, path: string, expected: string): string | undefined {
  return path === expected ? undefined : `${JSON.stringify(path)} is not the path of id ${id} (${expected})`;
}
