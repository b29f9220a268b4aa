/**
 * Option parsers for numbers: commander hands over strings, and `Number.parseInt('abc')`
 * is NaN, which would run a batch with no lanes or listen on no port without a word.
 * These refuse such values with a message naming what was expected.
 */
import { InvalidArgumentError } from 'commander';
import { isImageId } from '../common/index.js';

/** A whole number in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/** A number in [min, max]. */
export function numArg(min: number, max = Number.MAX_VALUE): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}`);
    return n;
  };
}

export const portArg = intArg(0, 65535);

/** An image id as every store path and message has it. */
export const imageIdArg = (v: string): string => {
  if (!isImageId(v)) throw new InvalidArgumentError(`expected an image id (decimal digits, no leading zero, at most 19), got ${JSON.stringify(v)}`);
  return v;
};
