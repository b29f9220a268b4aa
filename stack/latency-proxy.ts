/**
 * A delay in front of the origin, standing for distance (an 8,000 km round trip is
 * ~150 ms): every request waits `delayMs` before it is forwarded. Run by the stack as
 * its own process (`hearth origin-delay`), between the caches and the origin front.
 */
import { createServer, type Server } from 'node:http';
import { Pool } from 'undici';
import { closeServer, listen } from '../common/index.js';

export interface LatencyProxy {
  server: Server;
  close(): Promise<void>;
}

export async function startLatencyProxy(o: { listen: { host: string; port: number }; to: string; delayMs: number }): Promise<LatencyProxy> {
  const pool = new Pool(`http://${o.to}`, { connections: 256, keepAliveTimeout: 60_000 });
  const server = createServer((req, res) => {
    setTimeout(() => {
      const method = req.method === 'HEAD' ? 'HEAD' : 'GET';
      // Accept decides which encoding the origin makes (the cache sends its class's): it travels too.
      const headers = { host: req.headers.host ?? 'origin', ...(req.headers.accept ? { accept: req.headers.accept } : {}) };
      pool.request({ method, path: req.url ?? '/', headers }).then(
        async (up) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(up.headers)) if (typeof v === 'string' && k !== 'connection' && k !== 'keep-alive') headers[k] = v;
          res.writeHead(up.statusCode, headers);
          for await (const chunk of up.body) res.write(chunk);
          res.end();
        },
        (err: Error) => {
          res.writeHead(502, { 'content-type': 'text/plain' }).end(`origin unreachable: ${err.message}\n`);
        },
      );
    }, o.delayMs);
  });
  server.keepAliveTimeout = 75_000;
  await listen(server, o.listen.port, o.listen.host);
  return {
    server,
    async close() {
      await closeServer(server);
      await pool.close();
    },
  };
}
