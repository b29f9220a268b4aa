/** The store's layout: which paths exist and which id each belongs to (reading and writing them is `store/`'s). */

/**
 * The only paths Hearth serves, anywhere (origin service, origin front, caches, proxy):
 * a ladder size, `/photos/<dir>/<id>_<size>.jpg`, and an original,
 * `/originals/[<dir>/]<id>.jpg`. Everything else in the store (.jxl files, digests,
 * ledgers, locks, sidecars, temp files, the manifest) is the store's own business.
 * PCRE and JavaScript read these the same way; nginx configs are rendered from them.
 */
export const SIZE_PATH = '^/photos/([0-9]+)/([0-9]{1,19})_([a-z]{1,3})\\.jpg$';
export const ORIGINAL_PATH = '^/originals/(?:[0-9]+/)?([0-9]{1,19})\\.jpg$';
/** Either of them. */
export const IMAGE_PATH = `^(?:${SIZE_PATH.slice(1, -1)}|${ORIGINAL_PATH.slice(1, -1)})$`;

/** `/photos/<dir>/<id>_<size>.jpg`, with `<dir>` the id without its last two digits (Flickr-like fan-out). */
export function imagePath(id: string | number, size: string): string {
  return `/photos/${fanOut(id)}/${String(id)}_${size}.jpg`;
}

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
