/**
 * A local CA and one certificate for the cache nodes (SANs: every colo host, viewer
 * host and 127.0.0.1), made with the openssl CLI. For TLS between the proxy and the
 * caches on a development machine; production brings its own PKI.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Topology } from '../topology/index.js';

const run = promisify(execFile);

/** Idempotent: keeps an existing CA and certificate. Returns the directory. */
export async function ensureCerts(t: Topology, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string): string => join(dir, n);
  if (existsSync(f('ca.pem')) && existsSync(f('cache.pem')) && existsSync(f('cache.key'))) return dir;
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '3650', '-subj', '/CN=Hearth local CA']);
  await run('openssl', ['req', ...ec, '-keyout', f('cache.key'), '-out', f('cache.csr'), '-subj', '/CN=hearth cache']);
  const hosts = [...new Set(t.colos.flatMap((c) => [c.host, ...c.viewerHosts]))];
  writeFileSync(f('san.ext'), `subjectAltName=${[...hosts.map((h) => `DNS:${h}`), 'IP:127.0.0.1', 'IP:::1'].join(',')}\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    f('cache.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('cache.pem'),
    '-days',
    '825',
    '-extfile',
    f('san.ext'),
  ]);
  return dir;
}
