/**
 * Where hints come in: the native engine's socket (read in batches of up to 64 with
 * recvmmsg on the push thread, handed over many at a time) where the native push client
 * runs, else a `node:dgram` socket (one callback, one Buffer and one address object per
 * datagram: about as much event-loop time as the warmer's own work on a 1-path hint).
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';

export interface HintReceiverOptions {
  readonly host: string;
  readonly port: number;
  readonly recvBufferBytes: number;
  /** HMAC keys (SignatureVerifier.secrets): the native socket checks datagrams against them on its own thread. */
  readonly keys?: readonly Buffer[];
  /** One datagram, valid only during the call; `sig`: the native check's verdict, where it ran. */
  readonly onDatagram: (buf: Buffer, sig?: number) => void;
  readonly onError: (err: Error) => void;
}

export interface Listening {
  readonly address: string;
  readonly port: number;
  /** The receive buffer the kernel granted (it doubles what was asked, up to net.core.rmem_max). */
  readonly recvBuffer: number;
}

export interface HintReceiver {
  /** `native` or `dgram`. */
  readonly kind: string;
  listen(o: HintReceiverOptions): Promise<Listening>;
  /** Takes no more datagrams. */
  close(): Promise<void>;
}

export class DgramReceiver implements HintReceiver {
  readonly kind = 'dgram';
  private socket: dgram.Socket | undefined;

  async listen(o: HintReceiverOptions): Promise<Listening> {
    const socket = dgram.createSocket({ type: isIP(o.host) === 6 ? 'udp6' : 'udp4', recvBufferSize: o.recvBufferBytes });
    socket.on('message', o.onDatagram);
    socket.on('error', o.onError);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(o.port, o.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
    const a = socket.address();
    return { address: a.address, port: a.port, recvBuffer: socket.getRecvBufferSize() };
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((r) => socket.close(() => r()));
  }
}
