import { DirStore } from './dir-store.js';
import type { ObjectStore } from './object-store.js';

/**
 * The store a tier's config names. Today a root directory (the `dir` driver); the
 * topology's driver choice (`volumes`, `s3`) comes with those drivers.
 */
export function openStore(root: string): ObjectStore {
  return new DirStore(root);
}
