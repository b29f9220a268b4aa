/** Sends arbitrary bytes as datagrams, awaiting each send (tests and fuzzing, not the hot path). */
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised';

export class RawSender {
  private readonly socket: SocketAsPromised = DgramAsPromised.createSocket('udp4');
  private readonly host: string;
  private readonly port: number;

  constructor(address: string) {
    const i = address.lastIndexOf(':');
    this.host = address.slice(0, i);
    this.port = Number(address.slice(i + 1));
  }

  async send(msg: Buffer | string): Promise<void> {
    await this.socket.send(typeof msg === 'string' ? Buffer.from(msg) : msg, this.port, this.host);
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}
