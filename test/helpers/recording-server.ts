/** A real HTTP server on 127.0.0.1:0 (or another address of this machine) that records every request, standing in for the proxy. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { closeServer, listen } from '../../common/http-util.js';

export interface Recorded {
  method: string;
  path: string;
  host: string;
  /** The push's Accept: which encoding (format class) it asks the cache for. */
  accept: string;
  /** Distinct per TCP connection, so keep-alive reuse is visible. */
  connection: number;
}

export interface RecordingServer {
  readonly url: string;
  readonly requests: Recorded[];
  connections(): number;
  close(): Promise<void>;
}

export type Responder = (req: IncomingMessage) => { status: number; headers?: Record<string, string> } | 'hang';

export async function startRecordingServer(respond?: Responder, host = '127.0.0.1'): Promise<RecordingServer> {
  const requests: Recorded[] = [];
  const ids = new WeakMap<Socket, number>();
  let next = 0;
  const server: Server = createServer((req, res) => {
    let id = ids.get(req.socket);
    if (id === undefined) {
      id = ++next;
      ids.set(req.socket, id);
    }
    requests.push({ method: req.method ?? '', path: req.url ?? '', host: req.headers.host ?? '', accept: req.headers.accept ?? '', connection: id });
    const r = respond ? respond(req) : { status: 200, headers: { 'x-cache-status': 'MISS' } };
    if (r === 'hang') return;
    res.writeHead(r.status, { 'content-type': 'image/jpeg', ...r.headers });
    res.end(req.method === 'HEAD' ? undefined : Buffer.alloc(1024));
  });
  server.keepAliveTimeout = 60_000;
  await listen(server, 0, host);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    requests,
    connections: () => new Set(requests.map((r) => r.connection)).size,
    close: () => closeServer(server),
  };
}
