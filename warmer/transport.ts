/** Which push client carries the pushes: the native engine where it can, undici otherwise. */
import { HearthError } from '../common/index.js';
import type { Colo } from './colo-router.js';
import { perColoConcurrency, type WarmerConfig } from './config.js';
import { nativePush } from './native-push.js';
import { NativePusher } from './native-pusher.js';
import type { PushClient } from './push-report.js';
import { UndiciPusher } from './undici-pusher.js';

const USER_AGENT = 'hearth-warmer';

export function createPushClient(config: WarmerConfig, colos: readonly Colo[]): PushClient {
  const want = config.push.client;
  const addon = nativePush();
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
        'push.client: "native" needs the native push client, which is not built here (run infra/setup.sh; HEARTH_PUSH=off also turns it off)',
      );
    if (!plain) throw new HearthError('HEARTH_ERR_INVALID', `push.client: "native" speaks plain HTTP; the proxy ${config.proxy} needs "undici" (or "auto")`);
    return new NativePusher(addon, { ...common, hosts: colos.map((c) => c.host) });
  }
  return new UndiciPusher(common);
}
