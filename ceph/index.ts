/** The public face of `ceph/`: a Ceph cluster Hearth starts itself, for the store on S3. */
export * from './cluster.js';
