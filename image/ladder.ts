/** The size ladder: Flickr's sizes and suffixes (500 px has none at Flickr; here it is `d`). */
export interface SizeSpec {
  /** Suffix in the path: `<id>_<name>.jpg`. */
  readonly name: string;
  /** Longest side, or the side of a square crop. */
  readonly size: number;
  readonly square: boolean;
}

export const DEFAULT_LADDER: readonly SizeSpec[] = [
  { name: 'k', size: 2048, square: false },
  { name: 'h', size: 1600, square: false },
  { name: 'b', size: 1024, square: false },
  { name: 'c', size: 800, square: false },
  { name: 'z', size: 640, square: false },
  { name: 'd', size: 500, square: false },
  { name: 'n', size: 320, square: false },
  { name: 'm', size: 240, square: false },
  { name: 'q', size: 150, square: true },
  { name: 's', size: 75, square: true },
];

/**
 * The sizes the resize tier stores at upload; the origin makes the others on demand,
 * from the largest stored size at least as large, else from the original. Chosen by
 * `npm run bench -- sizes` (docs/store.md, "What is worth storing"): a size is stored
 * when a month of its bytes costs no more than remaking it each time a steadily viewed
 * photo's colo asks the origin again (once per 7-day cache validity). 2048, 1600 and
 * 800 px cost more to keep than to make.
 */
export const DEFAULT_STORED_SIZES: readonly string[] = ['b', 'z', 'd', 'n', 'm', 'q', 's'];

/** The ladder's sizes named in `names` (by default the stored ones), in ladder order. */
export const storedLadder = (names: readonly string[] = DEFAULT_STORED_SIZES): SizeSpec[] => DEFAULT_LADDER.filter((s) => names.includes(s.name));

/** The size every other is made from (Flickr's practice): the largest non-square one. */
export function sourceSize(ladder: readonly SizeSpec[]): SizeSpec {
  const s = [...ladder].filter((x) => !x.square).sort((a, b) => b.size - a.size)[0];
  if (!s) throw new RangeError('the ladder needs at least one non-square size');
  return s;
}
