/**
 * Where hints come in: the warmer's UDP socket. Two carry it: the native engine's
 * (warmer/native/hint-socket.c, read in batches of up to 64 with recvmmsg on the engine's
 * thread and handed over many at a time, each datagram's HMAC checked there; its face is
 * `NativeEngine.hints` in native-engine.ts) where the native engine runs, else this
 * `node:dgram` socket (one callback, one Buffer and one address object per datagram:
 * about as much event-loop time as the warmer's own work on a 1-path hint).
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';

export interface HintSocketOptions {
  readonly host: string;
  readonly port: number;
  readonly recvBufferBytes: number;
  /** HMAC keys (SignatureVerifier.secrets): the native socket checks datagrams against them on its own thread. */
  readonly keys?: readonly Buffer[];
  /**
   * One datagram, valid only during the call. `signedBy`, where the native check ran: the
   * index in `keys` of the key that signed it, or -1 for none of them (signed where
   * api-hook signs); undefined leaves the check to JavaScript.
   */
  readonly onDatagram: (buf: Buffer, signedBy?: number) => void;
  readonly onError: (err: Error) => void;
}

export interface Listening {
  readonly address: string;
  readonly port: number;
  /** The receive buffer the kernel granted (it doubles what was asked, up to net.core.rmem_max). */
  readonly recvBuffer: number;
}

/** The hint socket's face. Opened and closed with its transport (transport.ts); `close` only stops the hints. */
export interface HintSocket {
  /** `native` or `dgram`. */
  readonly kind: string;
  listen(o: HintSocketOptions): Promise<Listening>;
  /** Takes no more datagrams. */
  close(): Promise<void>;
}

export class DgramHintSocket implements HintSocket {
  readonly kind = 'dgram';
  private socket: dgram.Socket | undefined;

  async listen(o: HintSocketOptions): Promise<Listening> {
    const socket = dgram.createSocket({ type: isIP(o.host) === 6 ? 'udp6' : 'udp4', recvBufferSize: o.recvBufferBytes });
    socket.on('message', (buf) => o.onDatagram(buf));
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
