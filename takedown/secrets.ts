/**
 * A photo's secrets changed: `hearth secret rotate` (a photo made private again) draws new
 * ones, and `hearth secret migrate` gives secrets to the photos of a store from before
 * them. Either way the paths a cache may hold stop answering at the origin at once, and
 * a `refresh` on hearth.images.takedown has every colo's purger drop them.
 */
import type { Producer } from 'kafkajs';
import { ORIGINAL_PATH, createSecrets, originalPath, readSecrets, replaceSecrets, secretPaths, type Secrets } from '../image/index.js';
import { TOPICS, takedownValidator, type Takedown } from '../kafka/index.js';
import type { ObjectStore } from '../store/index.js';

async function announceRefresh(producer: Producer, id: string, by: string, old?: Secrets): Promise<void> {
  const t: Takedown = { id, action: 'refresh', by, ts: Date.now(), ...(old ? { secrets: { size: old.size, original: old.original } } : {}) };
  if (!takedownValidator.is(t)) throw new Error(takedownValidator.problems(t).join('; '));
  await producer.send({ topic: TOPICS.takedown, messages: [{ key: id, value: JSON.stringify(t) }] });
}

/** New secrets for `id`; its old paths answer 404 from now on and are purged everywhere. Returns its new paths. */
export async function rotateSecrets(store: ObjectStore, producer: Producer, id: string, by: string): Promise<string[]> {
  const old = await readSecrets(store, id);
  if (!old && !(await store.head(originalPath(id)))) throw new Error(`${id}: no such photo`);
  await replaceSecrets(store, id);
  await announceRefresh(producer, id, by, old);
  return secretPaths(id, (await readSecrets(store, id)) as Secrets);
}

/** Secrets for every photo of the store that has none; the paths caches may hold of each are purged. How many were given secrets. */
export async function migrateToSecrets(store: ObjectStore, producer: Producer, onProgress?: (n: number) => void): Promise<number> {
  const original = new RegExp(ORIGINAL_PATH);
  let n = 0;
  for await (const { key } of store.list('/originals/')) {
    const id = original.exec(key)?.[1];
    if (id === undefined || !(await createSecrets(store, id))) continue;
    await announceRefresh(producer, id, 'secret migrate');
    n++;
    onProgress?.(n);
  }
  return n;
}
