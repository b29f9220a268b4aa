/**
 * An image id: decimal digits with no leading zero (or `0` itself), at most 19, so it
 * fits an unsigned 64-bit integer and reads back as the same string from any store,
 * ledger or index that keeps it as a number. `0042` and `42` would otherwise be two
 * names for one record: after a restart the identity ledger knew only `42`, and a
 * byte-identical copy of `0042` was accepted and resized twice.
 */
export const IMAGE_ID = '^(?:0|[1-9][0-9]{0,18})$';

const ID = new RegExp(IMAGE_ID);

export const isImageId = (s: string): boolean => ID.test(s);
