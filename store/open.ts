import { resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { HearthError } from '../common/index.js';
import { DirStore } from './dir-store.js';
import { HttpStore } from './http-store.js';
import { isS3Spec, S3Store } from './s3-store.js';
import type { ObjectStore } from './object-store.js';

/**
 * The store a tier's `store` config member names: a directory is the `dir` driver; an
 * `http://` URL is the store service (`hearth store serve`, the `volumes` driver behind
 * HTTP) at that address; `s3://BUCKET` or `s3+http://HOST:PORT/BUCKET` an S3 bucket
 * (AWS, Ceph's RADOS Gateway: store/s3-store.ts). One member in every tier's config, so
 * switching a site from one to another is one line of its topology.
 */
export function openStore(spec: string): ObjectStore {
  if (isS3Spec(spec)) return new S3Store(spec);
  return isDirStore(spec) ? new DirStore(spec) : new HttpStore(spec.replace(/\/+$/, ''));
}

/**
 * `fn` with the store `spec` names open, closed after it whatever happens; with
 * `ready`, refused first with the store's own reason when it takes no work (a batch
 * must not start on a store that is not there).
 */
export async function withStore<T>(spec: string, fn: (store: ObjectStore) => Promise<T>, o: { ready?: boolean } = {}): Promise<T> {
  const store = openStore(spec);
  try {
    const ready = o.ready ? await store.ready() : true;
    if (ready !== true) throw new Error(`no store at ${spec}: ${ready}`);
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A store spec as a command line gives it, made independent of the working directory (a directory absolute, an address as it is). */
export const absoluteStoreSpec = (spec: string): string => (isDirStore(spec) ? resolve(spec) : spec);

/** Whether `spec` names a directory (the `dir` driver), which tools that need files (nginx, the JPEG XL tools) can reach directly. */
export const isDirStore = (spec: string): boolean => !/^(https?|s3(\+https?)?):\/\//.test(spec);

/**
 * Where a tier keeps its own files for a store (run locks, ledgers, indexes: state, not
 * store objects): `stateDir` when given; otherwise the directory store's own root, under
 * dot names nginx never serves; a clear refusal for a store service without one.
 */
export function tierStateDir(spec: string, stateDir: string | undefined, what: string): string {
  if (stateDir) return stateDir;
  if (isDirStore(spec)) return spec;
  throw new HearthError(
    'HEARTH_ERR_INVALID',
    `${what}: the store ${spec} is a store service, so its own files (state, not store objects) need a directory of their own: give --state-dir (stateDir in its config)`,
  );
}

/** Where the embedded default stack (`hearth stack up`) runs its store service. */
export const DEFAULT_STORE_LISTEN = '127.0.0.1:8084';

/**
 * The store every tier and command uses unless told otherwise: the embedded default
 * stack's store service, as the default broker is its broker. `volumes` won the store
 * benchmark on every figure (docs/store.md), so it is what `stack up` runs.
 */
export const DEFAULT_STORE = `http://${DEFAULT_STORE_LISTEN}`;

/** The `store` member of every tier's config. */
export const storeOption = (what: string) =>
  Type.String({
    minLength: 1,
    default: DEFAULT_STORE,
    description: `the store: a directory, the http:// address of the store service, or an S3 bucket (s3://BUCKET, s3+http://HOST:PORT/BUCKET?credentials=FILE); ${what}`,
  });

/** The `stateDir` member of the tiers that keep files of their own about a store. */
export const stateDirOption = (what: string) =>
  Type.Optional(
    Type.String({
      minLength: 1,
      description: `${what} (state, not store objects); default: dot files in a directory store's root, required with a store service`,
    }),
  );
