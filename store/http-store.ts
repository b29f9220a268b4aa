/**
 * The store reached over HTTP: a client of `hearth store serve` (store-server/), for
 * tiers that are not the process holding the volumes, on this machine or another, as
 * Backpack's were. The protocol is S3's shape over store paths:
 *
 *     GET    /photos/1/100_z.jpg          the object; metadata in `x-hearth-meta`; `range: bytes=a-b` for part (206)
 *     HEAD   /photos/1/100_z.jpg          size (content-length) and metadata
 *     PUT    /photos/1/100_z.jpg          create or replace; `if-none-match: *` creates only (412 when it exists)
 *     PUT    … + x-hearth-copy-source     copy another object's bytes and metadata
 *     DELETE /photos/1/100_z.jpg          204, or 404 when there was none
 *     GET    /?list=<prefix>              newline-delimited JSON, one object per line
 *     POST   /?damaged                    a finding for the store's repair list (JSON), 204
 *
 * Metadata travels as base64url JSON (header values are Latin-1). Errors come back as
 * `{code, message}` and are rethrown as the same classes every driver raises; a
 * connection refused or reset is retried with backoff (every operation here is
 * idempotent or, for create-only, says "exists" on a retry of a create that did land),
 * then thrown with its errno code, which the Kafka tiers treat as transient.
 */
import { Pool } from 'undici';
import { HearthError, type HearthErrorCode } from '../common/index.js';
import { checkFinding, type DamageFinding } from './damage-report.js';
import {
  checkKey,
  checkMeta,
  DamagedObjectError,
  DEFAULT_MAX_READ_BYTES,
  ObjectNotFoundError,
  StoreEscapeError,
  StoreFullError,
  UnreadableObjectError,
  type ListedObject,
  type ObjectInfo,
  type ObjectMeta,
  type ObjectStore,
} from './object-store.js';

export const META_HEADER = 'x-hearth-meta';
export const COPY_HEADER = 'x-hearth-copy-source';
export const MAX_BYTES_HEADER = 'x-hearth-max-bytes';

export const encodeMetaHeader = (meta: ObjectMeta): string => Buffer.from(JSON.stringify(meta)).toString('base64url');

export function decodeMetaHeader(value: string | string[] | undefined): ObjectMeta {
  if (typeof value !== 'string' || value === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw new HearthError('HEARTH_ERR_INVALID', `${META_HEADER} is not base64url JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string'))
    throw new HearthError('HEARTH_ERR_INVALID', `${META_HEADER} is not an object of strings`);
  return parsed as ObjectMeta;
}

/** An error as the server sends it, back into the class every driver raises. */
export function errorFromBody(status: number, body: { code?: string; message?: string; key?: string }, key: string): Error {
  const message = body.message ?? `store answered ${status}`;
  switch (body.code) {
    case 'HEARTH_ERR_NOT_FOUND':
      return new ObjectNotFoundError(key);
    case 'HEARTH_ERR_STORE_ESCAPE':
      return new StoreEscapeError(message);
    case 'HEARTH_ERR_INTEGRITY':
      return new DamagedObjectError(key, message);
    case 'HEARTH_ERR_STORE_FULL':
      return new StoreFullError(message);
    case 'HEARTH_ERR_TOO_LARGE':
    case 'HEARTH_ERR_NOT_A_FILE':
      return new UnreadableObjectError(body.code, message);
    case undefined:
    default:
      return body.code && /^HEARTH_ERR_[A-Z_]+$/.test(body.code)
        ? new HearthError(body.code as HearthErrorCode, message)
        : new Error(`store answered ${status}: ${message}`);
  }
}

const RETRIED = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const ATTEMPTS = 4;

export interface HttpStoreOptions {
  /** Connections to the store service at most. */
  connections?: number;
  /** No answer within this: the request fails (and is retried, as a connection error is). */
  timeoutMs?: number;
}

export class HttpStore implements ObjectStore {
  readonly driver = 'http';
  private readonly pool: Pool;
  private readonly timeoutMs: number;

  constructor(
    readonly url: string,
    o: HttpStoreOptions = {},
  ) {
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.pool = new Pool(url, { connections: o.connections ?? 32, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, keepAliveTimeout: 30_000 });
  }

  private async call(
    method: 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST',
    path: string,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.pool.request({ method, path, headers, body });
        const chunks: Buffer[] = [];
        for await (const c of r.body) chunks.push(c as Buffer);
        return { status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!RETRIED.has(code) || attempt >= ATTEMPTS) {
          if (err instanceof Error && code && !(err as NodeJS.ErrnoException).message.includes(this.url)) err.message = `store ${this.url}: ${err.message}`;
          throw err;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  private failure(r: { status: number; body: Buffer }, key: string): Error {
    let body: { code?: string; message?: string } = {};
    try {
      body = JSON.parse(r.body.toString('utf8')) as typeof body;
    } catch {
      body = { message: r.body.toString('utf8').slice(0, 200) };
    }
    return errorFromBody(r.status, body, key);
  }

  private path(key: string): string {
    checkKey(key);
    return encodeURI(key);
  }

  async get(key: string, maxBytes = DEFAULT_MAX_READ_BYTES): Promise<Buffer> {
    const r = await this.call('GET', this.path(key), { [MAX_BYTES_HEADER]: String(maxBytes) });
    if (r.status !== 200) throw this.failure(r, key);
    return r.body;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const r = await this.call('HEAD', this.path(key));
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`store ${this.url}: HEAD ${key} answered ${r.status}`);
    return { size: Number(r.headers['content-length']), meta: decodeMetaHeader(r.headers[META_HEADER]) };
  }

  async put(key: string, data: Buffer, meta?: ObjectMeta): Promise<void> {
    await this.write(key, data, meta, false);
  }

  putIfAbsent(key: string, data: Buffer, meta?: ObjectMeta): Promise<boolean> {
    return this.write(key, data, meta, true);
  }

  private async write(key: string, data: Buffer, meta: ObjectMeta | undefined, createOnly: boolean): Promise<boolean> {
    checkMeta(meta);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (meta && Object.keys(meta).length) headers[META_HEADER] = encodeMetaHeader(meta);
    if (createOnly) headers['if-none-match'] = '*';
    const r = await this.call('PUT', this.path(key), headers, data);
    if (r.status === 412 && createOnly) return false;
    if (r.status !== 200 && r.status !== 201) throw this.failure(r, key);
    return true;
  }

  async copy(from: string, to: string): Promise<void> {
    checkKey(from);
    const r = await this.call('PUT', this.path(to), { [COPY_HEADER]: encodeURI(from) });
    if (r.status !== 200 && r.status !== 201) throw this.failure(r, from);
  }

  async delete(key: string): Promise<boolean> {
    const r = await this.call('DELETE', this.path(key));
    if (r.status === 404) return false;
    if (r.status !== 204) throw this.failure(r, key);
    return true;
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    const r = await this.call('GET', `/?list=${encodeURIComponent(prefix)}`);
    if (r.status !== 200) throw this.failure(r, prefix);
    for (const line of r.body.toString('utf8').split('\n')) if (line) yield JSON.parse(line) as ListedObject;
  }

  /** The service sweeps its own store at start. */
  sweep(): Promise<number> {
    return Promise.resolve(0);
  }

  /** The service keeps the store's repair list. */
  async reportDamage(finding: DamageFinding): Promise<void> {
    const r = await this.call('POST', '/?damaged', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(checkFinding(finding))));
    if (r.status !== 204) throw this.failure(r, finding.path);
  }

  async ready(): Promise<true | string> {
    try {
      const r = await this.call('HEAD', '/?ready');
      return (
        r.status === 200 || `store ${this.url} not ready (${r.status}${r.headers['x-hearth-not-ready'] ? `: ${String(r.headers['x-hearth-not-ready'])}` : ''})`
      );
    } catch (err) {
      return `store ${this.url} unreachable: ${(err as Error).message}`;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
