/**
 * What carries the warmer's traffic, hints in and pushes out, with one life cycle: the
 * native engine where it can (both faces on its own thread), else undici for pushes and
 * `node:dgram` for hints.
 */
import { HearthError } from '../common/index.js';
import type { Colo } from './colo-router.js';
import { perColoConcurrency, type WarmerConfig } from './config.js';
import { DgramHintSocket, type HintSocket } from './hint-socket.js';
import { nativeEngineAddon } from './native-addon.js';
import { NativeEngine } from './native-engine.js';
import type { PushClient } from './push-client.js';
import { UndiciPushClient } from './undici-push-client.js';

export interface Transport {
  /** `native` or `node`. */
  readonly kind: string;
  readonly pushes: PushClient;
  readonly hints: HintSocket;
  /** Resolves what must be resolved before the first push (the proxy's address) and starts what carries them. */
  open(): Promise<void>;
  /** After the pushes in flight finished: closes every connection, and the hint socket if still open. */
  close(): Promise<void>;
  /** Abandons what is in flight. */
  destroy(): Promise<void>;
}

/** undici's pools and a node:dgram socket: for an `https://` proxy, and wherever the native engine is not built. */
class NodeTransport implements Transport {
  readonly kind = 'node';
  readonly hints = new DgramHintSocket();

  constructor(readonly pushes: UndiciPushClient) {}

  async open(): Promise<void> {}

  async close(): Promise<void> {
    await this.hints.close();
    await this.pushes.close();
  }

  async destroy(): Promise<void> {
    await this.hints.close();
    await this.pushes.destroy();
  }
}

const USER_AGENT = 'hearth-warmer';

export function createTransport(config: WarmerConfig, colos: readonly Colo[]): Transport {
  const want = config.push.client;
  const addon = nativeEngineAddon();
  const plain = new URL(config.proxy).protocol === 'http:';
  const common = {
    proxy: config.proxy,
    method: config.push.method,
    connections: perColoConcurrency(config),
    timeoutMs: config.push.timeoutMs,
    userAgent: USER_AGENT,
  };
  if (want === 'native' || (want === 'auto' && addon && plain)) {
    if (!addon)
      throw new HearthError(
        'HEARTH_ERR_INVALID',
        'push.client: "native" needs the native engine, which is not built here (run infra/setup.sh; HEARTH_PUSH=off also turns it off)',
      );
    if (!plain) throw new HearthError('HEARTH_ERR_INVALID', `push.client: "native" speaks plain HTTP; the proxy ${config.proxy} needs "undici" (or "auto")`);
    return new NativeEngine(addon, { ...common, hosts: colos.map((c) => c.host) });
  }
  return new NodeTransport(new UndiciPushClient(common));
}
