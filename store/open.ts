import { HearthError } from '../common/index.js';
import { DirStore } from './dir-store.js';
import { HttpStore } from './http-store.js';
import type { ObjectStore } from './object-store.js';

/**
 * The store a tier's `store` config member names: a directory is the `dir` driver; an
 * `http://` URL is the store service (`hearth store serve`, the `volumes` driver behind
 * HTTP) at that address. One member in every tier's config, so switching a site from one
 * to the other is one line of its topology.
 */
export function openStore(spec: string): ObjectStore {
  return isDirStore(spec) ? new DirStore(spec) : new HttpStore(spec.replace(/\/+$/, ''));
}

/** Whether `spec` names a directory (the `dir` driver), which tools that need files (nginx, the JPEG XL tools) can reach directly. */
export const isDirStore = (spec: string): boolean => !/^https?:\/\//.test(spec);

/** The directory of a `dir` store, for the tools that still read its files; a clear refusal for any other store. */
export function requireDirStore(spec: string, what: string): string {
  if (!isDirStore(spec)) throw new HearthError('HEARTH_ERR_INVALID', `${what} reads files of a directory store (its tools take paths); ${spec} is a store service. Run it on a directory store, or export one (hearth store export)`);
  return spec;
}
