/**
 * Baseline for the ingest benchmark, run as its own process: a bare node:dgram socket
 * with the warmer's receive buffer that only counts datagrams. It is the ceiling of
 * Node's UDP path on this machine; the warmer's figures are reported against it.
 */
import dgram from 'node:dgram';

const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4194304 });
let count = 0;
socket.on('message', () => {
  count++;
});
socket.bind(0, '127.0.0.1', () => {
  process.send?.({ port: socket.address().port });
});
process.on('message', (m: string) => {
  if (m === 'count') process.send?.({ count });
  if (m === 'stop') socket.close(() => process.exit(0));
});
