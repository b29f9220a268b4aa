/**
 * The store on any S3-compatible object store (Ceph's RADOS Gateway, AWS S3, Swift's
 * s3api), through AWS's own client. Store paths are keys without their leading slash
 * (`/photos/1/100_z.jpg` is `photos/1/100_z.jpg` in the bucket).
 *
 * What S3 gives as it is: atomic puts (a reader sees the old object or the new), durable
 * when acknowledged, create-only with `If-None-Match: *`, server-side copy with the
 * metadata, user metadata. What this driver adds:
 * - every object carries xxHash64 of its bytes in its metadata (`hearth-xxh64`), checked
 *   on every read, as the volumes engine checks its needles: a mismatch is never served
 *   and goes on the repair list. S3's ETag is no such digest on every server (AWS's
 *   ETag under KMS encryption is not the MD5), and Pacific's RGW has no flexible checksums;
 * - a bounded keep-alive pool, a connect and a request timeout, retries with backoff
 *   (every request here is safe to repeat; a create-only put that did land and is
 *   repeated is told apart by its bytes);
 * - the origin's read path (get, head) and puts signed with `aws4` and sent over undici:
 *   the SDK cost 2.5 ms of CPU per 5 KB GET here, which capped the origin at the client's
 *   own core; the SDK keeps what needs its XML and paginators (list, copy, delete, buckets);
 * - failures of the service itself (timeouts, 5xx, a refused connection) end as
 *   `HEARTH_ERR_STORE_UNAVAILABLE`, which the Kafka tiers retry without limit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { randomBytes } from 'node:crypto';
import { xxh64 } from '@node-rs/xxhash';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import aws4 from 'aws4';
import { Pool } from 'undici';
import { HearthError } from '../common/index.js';
import { checkFinding, type DamageFinding } from './damage-report.js';
import {
  checkKey,
  checkMeta,
  DamagedObjectError,
  DEFAULT_MAX_READ_BYTES,
  ObjectNotFoundError,
  UnreadableObjectError,
  type ListedObject,
  type ObjectInfo,
  type ObjectMeta,
  type ObjectStore,
} from './object-store.js';

/** The metadata name of an object's digest, kept out of what `head` and `list` return. */
export const DIGEST_META = 'hearth-xxh64';
/** Where the repair list lives in the bucket: one object per finding (S3 has no append). */
export const DAMAGE_PREFIX = '.hearth-damaged/';
/** The store's own names (the repair list), never objects: as `dir` keeps its own. */
const PRIVATE = /(?:^|\/)\.hearth-/;

export interface S3Location {
  bucket: string;
  /** Absent: AWS's own endpoint for the region. */
  endpoint?: string;
  region: string;
  /** A JSON file `{"accessKeyId","secretAccessKey"}`; absent: the client's own chain (AWS_ACCESS_KEY_ID, ~/.aws, an instance role). */
  credentials?: string;
}

/**
 * A store spec for S3: `s3://BUCKET` (AWS; region from `?region=` or AWS_REGION), or
 * `s3+http://HOST:PORT/BUCKET` / `s3+https://…` for another S3-compatible endpoint
 * (path-style), either with `?credentials=FILE` to name a keys file.
 */
export function parseS3Spec(spec: string): S3Location {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new HearthError('HEARTH_ERR_INVALID', `store ${JSON.stringify(spec)}: not a URL`);
  }
  const region = url.searchParams.get('region') ?? process.env.AWS_REGION ?? 'us-east-1';
  const credentials = url.searchParams.get('credentials') ?? undefined;
  const bad = (why: string) =>
    new HearthError('HEARTH_ERR_INVALID', `store ${JSON.stringify(spec)}: ${why} (s3://BUCKET, or s3+http://HOST:PORT/BUCKET for another S3 endpoint)`);
  if (url.protocol === 's3:') {
    if (!url.hostname) throw bad('no bucket');
    return { bucket: url.hostname, region, credentials };
  }
  if (url.protocol !== 's3+http:' && url.protocol !== 's3+https:') throw bad('not an S3 store');
  const bucket = url.pathname.replace(/^\/+|\/+$/g, '');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw bad(`bucket ${JSON.stringify(bucket)} is no S3 bucket name`);
  return { bucket, endpoint: `${url.protocol.slice(3)}//${url.host}`, region, credentials };
}

/** The spec of a bucket on an S3-compatible endpoint (`http://HOST:PORT`), as `parseS3Spec` reads it. */
export const s3Spec = (endpoint: string, bucket: string, credentials?: string): string =>
  `s3+${endpoint.replace(/\/+$/, '')}/${bucket}${credentials ? `?credentials=${encodeURIComponent(credentials)}` : ''}`;

/** Where a cluster Hearth runs itself (`hearth ceph up`) keeps its S3 user's keys, in its state directory. */
export const s3CredentialsFile = (dir: string): string => join(dir, 's3-credentials.json');

export const isS3Spec = (spec: string): boolean => /^s3(\+https?)?:\/\//.test(spec);

export interface S3StoreOptions {
  /** Connections to the endpoint at most (the pool every request shares). */
  connections?: number;
  connectTimeoutMs?: number;
  /** No whole answer within this: the try fails, and is retried. */
  requestTimeoutMs?: number;
  /** Tries of one request, the first included. */
  attempts?: number;
}

/** S3's names for "no such object". */
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound']);

/** An S3 metadata value as a header carries it: printable ASCII as it is, anything else RFC 2047-encoded, as AWS itself stores non-ASCII values. */
const encodeValue = (v: string): string =>
  /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(v) || v === '' ? v : `=?UTF-8?B?${Buffer.from(v).toString('base64')}?=`;
const decodeValue = (v: string): string => {
  const m = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/i.exec(v);
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8') : v;
};

// The client warns on Node 20 that versions published after January 2027 will need 22.
// Hearth pins its version (package.json), so the warning says nothing to an operator.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const digestOf = (data: Buffer): string => xxh64(data).toString(16).padStart(16, '0');

/** What a signed request answers. */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** An S3 error body's code (`<Code>NoSuchKey</Code>`), for the message. */
const errorCode = (body: Buffer): string => /<Code>([^<]+)<\/Code>/.exec(body.toString('utf8', 0, 2048))?.[1] ?? '';

export class S3Store implements ObjectStore {
  readonly driver = 's3';
  readonly location: S3Location;
  private readonly client: S3Client;
  private readonly pool: Pool;
  /** Host and path prefix of an object's URL: path-style on another endpoint, virtual-hosted on AWS. */
  private readonly host: string;
  private readonly prefix: string;
  private readonly attempts: number;
  private readonly fileCredentials: { accessKeyId: string; secretAccessKey: string } | undefined;

  constructor(
    readonly spec: string,
    o: S3StoreOptions = {},
  ) {
    this.location = parseS3Spec(spec);
    const { endpoint, region, credentials, bucket } = this.location;
    const agentOptions = { keepAlive: true, maxSockets: o.connections ?? 32 };
    this.fileCredentials = credentials ? readCredentials(credentials) : undefined;
    this.attempts = o.attempts ?? 4;
    const origin = endpoint ?? `https://${bucket}.s3.${region}.amazonaws.com`;
    this.host = new URL(origin).host;
    this.prefix = endpoint ? `/${bucket}` : '';
    const requestTimeoutMs = o.requestTimeoutMs ?? 30_000;
    this.pool = new Pool(origin, {
      connections: o.connections ?? 32,
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
      keepAliveTimeout: 30_000,
      connect: { timeout: o.connectTimeoutMs ?? 2_000 },
    });
    this.client = new S3Client({
      region,
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      ...(this.fileCredentials ? { credentials: this.fileCredentials } : {}),
      maxAttempts: this.attempts,
      // Recent clients add CRC checksums to every request by default; Pacific's RGW (and
      // many other S3-compatible servers) refuse them. The digest above does that job.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        connectionTimeout: o.connectTimeoutMs ?? 2_000,
        requestTimeout: requestTimeoutMs,
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
      }),
    });
  }

  private key(key: string): string {
    checkKey(key);
    if (PRIVATE.test(key)) throw new HearthError('HEARTH_ERR_INVALID', `store path ${JSON.stringify(key)}: names starting .hearth- are the store's own`);
    return key.slice(1);
  }

  /**
   * One request signed with SigV4 (`aws4`) over the pool, tried up to `attempts` times
   * with backoff while the service fails (a refused or reset connection, a timeout, a
   * 5xx, a throttle); `tries` says how many it took.
   */
  private async signed(method: 'GET' | 'HEAD' | 'PUT', key: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Answer & { tries: number }> {
    const path = `${this.prefix}/${key.split('/').map(encodeURIComponent).join('/')}`;
    let last: unknown;
    for (let tries = 1; tries <= this.attempts; tries++) {
      if (tries > 1) await new Promise((r) => setTimeout(r, 100 * 2 ** (tries - 1) * (0.5 + Math.random())));
      try {
        const credentials = this.fileCredentials ?? (await this.client.config.credentials());
        const req = aws4.sign(
          { host: this.host, path, method, service: 's3', region: this.location.region, headers: { ...headers }, ...(body ? { body } : {}) },
          credentials,
        );
        const r = await this.pool.request({ method, path, headers: req.headers as Record<string, string>, body });
        const chunks: Buffer[] = [];
        for await (const c of r.body) chunks.push(c as Buffer);
        const answer = { status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks), tries };
        if (r.statusCode < 500 && r.statusCode !== 429) return answer;
        last = Object.assign(new Error(`${method} answered ${r.statusCode} ${errorCode(answer.body)}`), { status: r.statusCode });
      } catch (err) {
        last = err;
      }
    }
    const e = last as { code?: string; message?: string; status?: number };
    throw new HearthError(
      'HEARTH_ERR_STORE_UNAVAILABLE',
      `store ${this.spec}: ${method} ${key} failed after ${this.attempts} tries: ${e.code ?? ''}${e.code ? ': ' : ''}${e.message ?? String(last)}`,
      { cause: last },
    );
  }

  /** A refusal of a signed request, as the class every driver raises. */
  private refused(r: Answer, key: string, op: string): Error {
    if (r.status === 404) return new ObjectNotFoundError(key);
    return new HearthError('HEARTH_ERR_INVALID', `store ${this.spec}: ${op} ${key} refused: ${r.status} ${errorCode(r.body)}`);
  }

  /** Service failures as one transient code; S3's own refusals as the classes every driver raises. */
  private failure(err: unknown, key: string, op: string): Error {
    if (err instanceof HearthError) return err;
    const e = err as S3ServiceException & { code?: string };
    if (NOT_FOUND.has(e.name)) return new ObjectNotFoundError(key);
    const status = e.$metadata?.httpStatusCode;
    if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
      return new HearthError('HEARTH_ERR_INVALID', `store ${this.spec}: ${op} ${key} refused: ${status} ${e.name}: ${e.message}`, { cause: err });
    }
    return new HearthError(
      'HEARTH_ERR_STORE_UNAVAILABLE',
      `store ${this.spec}: ${op} ${key} failed${status ? ` (${status})` : ''}: ${e.code ?? e.name}: ${e.message}`,
      { cause: err },
    );
  }

  async get(key: string, maxBytes = DEFAULT_MAX_READ_BYTES): Promise<Buffer> {
    const k = this.key(key);
    // The size first when the cap is below what a read may hold whole: nothing over it is fetched.
    if (maxBytes < DEFAULT_MAX_READ_BYTES) {
      const info = await this.head(key);
      if (!info) throw new ObjectNotFoundError(key);
      if (info.size > maxBytes)
        throw new UnreadableObjectError('HEARTH_ERR_TOO_LARGE', `store path ${JSON.stringify(key)}: ${info.size} bytes is over the cap of ${maxBytes}`);
    }
    const r = await this.signed('GET', k);
    if (r.status !== 200) throw this.refused(r, key, 'GET');
    const data = r.body;
    if (data.length > maxBytes)
      throw new UnreadableObjectError('HEARTH_ERR_TOO_LARGE', `store path ${JSON.stringify(key)}: ${data.length} bytes is over the cap of ${maxBytes}`);
    const want = header(r.headers, `x-amz-meta-${DIGEST_META}`);
    if (want !== undefined && digestOf(data) !== want) {
      const damage = new DamagedObjectError(
        key,
        `store path ${JSON.stringify(key)}: ${data.length} bytes read whose xxHash64 ${digestOf(data)} is not the ${want} written with them`,
      );
      await this.reportDamage({ path: key, reason: 'checksum', by: 'store', error: damage.message }).catch(() => undefined);
      throw damage;
    }
    return data;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const r = await this.signed('HEAD', this.key(key));
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw this.refused(r, key, 'HEAD');
    const modified = Date.parse(header(r.headers, 'last-modified') ?? '');
    return { size: Number(header(r.headers, 'content-length')), ...(Number.isFinite(modified) ? { modifiedMs: modified } : {}), meta: metaOf(r.headers) };
  }

  async put(key: string, data: Buffer, meta?: ObjectMeta): Promise<void> {
    await this.write(key, data, meta, false);
  }

  putIfAbsent(key: string, data: Buffer, meta?: ObjectMeta): Promise<boolean> {
    return this.write(key, data, meta, true);
  }

  private async write(key: string, data: Buffer, meta: ObjectMeta | undefined, createOnly: boolean): Promise<boolean> {
    checkMeta(meta);
    const k = this.key(key);
    if (meta && DIGEST_META in meta) throw new HearthError('HEARTH_ERR_INVALID', `object metadata ${JSON.stringify(DIGEST_META)} is the store's own`);
    const digest = digestOf(data);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', [`x-amz-meta-${DIGEST_META}`]: digest };
    for (const [n, v] of Object.entries(meta ?? {})) headers[`x-amz-meta-${n}`] = encodeValue(v);
    if (createOnly) headers['if-none-match'] = '*';
    for (;;) {
      const r = await this.signed('PUT', k, headers, data);
      if (r.status === 200) return true;
      // Another create-only put of the key is in progress (AWS answers 409): try again, to learn who won.
      if (createOnly && r.status === 409) continue;
      // A create that landed, then was tried again after a lost answer, is refused by its
      // own object: the digest says whether it was this one.
      if (createOnly && r.status === 412) return r.tries > 1 && (await this.signed('HEAD', k)).headers[`x-amz-meta-${DIGEST_META}`] === digest;
      throw this.refused(r, key, 'PUT');
    }
  }

  async copy(from: string, to: string): Promise<void> {
    const src = this.key(from);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.location.bucket,
          Key: this.key(to),
          CopySource: `${this.location.bucket}/${encodeURIComponent(src).replace(/%2F/g, '/')}`,
          MetadataDirective: 'COPY',
        }),
      );
    } catch (err) {
      throw this.failure(err, from, 'COPY');
    }
  }

  /** S3 answers a delete of nothing as of something: a head first says which it was. */
  async delete(key: string): Promise<boolean> {
    const k = this.key(key);
    if (!(await this.head(key))) return false;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: k }));
      return true;
    } catch (err) {
      throw this.failure(err, key, 'DELETE');
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    if (!prefix.startsWith('/')) throw new HearthError('HEARTH_ERR_INVALID', `list prefix ${JSON.stringify(prefix)}: store paths start with /`);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix.slice(1), ContinuationToken: token, MaxKeys: 1000 }),
        );
      } catch (err) {
        throw this.failure(err, prefix, 'LIST');
      }
      const keys = (page.Contents ?? []).map((c) => `/${c.Key!}`).filter((k) => !PRIVATE.test(k));
      // Listing gives no metadata: a head per object, 16 at once, in the listing's order.
      const heads = new Array<Promise<ObjectInfo | undefined>>(keys.length);
      const ahead = 16;
      for (let i = 0; i < Math.min(ahead, keys.length); i++) heads[i] = this.head(keys[i]!);
      for (let i = 0; i < keys.length; i++) {
        if (i + ahead < keys.length) heads[i + ahead] = this.head(keys[i + ahead]!);
        const info = await heads[i]!;
        if (info) yield { key: keys[i]!, ...info };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** S3 puts are whole or nothing: a writer that crashed leaves nothing behind. */
  sweep(): Promise<number> {
    return Promise.resolve(0);
  }

  async reportDamage(finding: DamageFinding): Promise<void> {
    const f = { ts: new Date().toISOString(), ...checkFinding(finding) };
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: `${DAMAGE_PREFIX}${f.ts}-${randomBytes(4).toString('hex')}.json`,
          Body: JSON.stringify(f),
          ContentType: 'application/json',
        }),
      );
    } catch (err) {
      throw this.failure(err, finding.path, 'PUT (repair list)');
    }
  }

  /** The repair list, oldest first. */
  async *findings(): AsyncIterable<DamageFinding & { ts: string }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: DAMAGE_PREFIX, ContinuationToken: token }));
      for (const c of page.Contents ?? []) {
        const r = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: c.Key! }));
        yield JSON.parse(await r.Body!.transformToString()) as DamageFinding & { ts: string };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async ready(): Promise<true | string> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }));
      return true;
    } catch (err) {
      const status = (err as S3ServiceException).$metadata?.httpStatusCode;
      if (status === 404) return `store ${this.spec}: no bucket ${this.location.bucket}`;
      if (status === 403) return `store ${this.spec}: bucket ${this.location.bucket} refused these credentials`;
      return `store ${this.spec} unreachable: ${(err as Error).message || (err as Error).name}`;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.pool.close();
  }
}

const header = (h: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** An object's user metadata from its headers, without the store's own digest. */
function metaOf(h: Record<string, string | string[] | undefined>): ObjectMeta {
  const out: Record<string, string> = {};
  for (const [n, v] of Object.entries(h))
    if (n.startsWith('x-amz-meta-') && n !== `x-amz-meta-${DIGEST_META}` && v !== undefined)
      out[n.slice('x-amz-meta-'.length)] = decodeValue(Array.isArray(v) ? v[0]! : v);
  return out;
}

function readCredentials(file: string): { accessKeyId: string; secretAccessKey: string } {
  let c: unknown;
  try {
    c = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new HearthError('HEARTH_ERR_INVALID', `S3 credentials ${file}: ${(err as Error).message}`);
  }
  const o = c as { accessKeyId?: unknown; secretAccessKey?: unknown };
  if (typeof o.accessKeyId !== 'string' || typeof o.secretAccessKey !== 'string')
    throw new HearthError('HEARTH_ERR_INVALID', `S3 credentials ${file}: want {"accessKeyId", "secretAccessKey"}`);
  return { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey };
}
