/** One real Kafka broker (KRaft) shared by every test that needs it; stopped when the run ends. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaBroker } from '../../kafka/broker.js';
import { freePorts } from './test-stack.js';

let shared: Promise<KafkaBroker> | undefined;

export function testKafka(): Promise<KafkaBroker> {
  shared ??= (async () => {
    const [port, controllerPort] = await freePorts(2);
    const broker = new KafkaBroker({ dir: mkdtempSync(join(tmpdir(), 'hearth-kafka-')), port, controllerPort, partitions: 4 });
    process.once('exit', () => {
      const pid = broker.pid();
      if (pid) process.kill(pid, 'SIGKILL');
    });
    await broker.start();
    return broker;
  })();
  return shared;
}

export async function stopTestKafka(): Promise<void> {
  if (!shared) return;
  const b = await shared.catch(() => undefined);
  shared = undefined;
  await b?.stop();
}
