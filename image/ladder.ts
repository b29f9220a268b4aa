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

/** The size every other is made from (Flickr's practice): the largest non-square one. */
export function sourceSize(ladder: readonly SizeSpec[]): SizeSpec {
  const s = [...ladder].filter((x) => !x.square).sort((a, b) => b.size - a.size)[0];
  if (!s) throw new RangeError('the ladder needs at least one non-square size');
  return s;
}
