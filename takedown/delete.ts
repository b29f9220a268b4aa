/**
 * `hearth delete`: a photo taken back, in the order that holds against every reader and
 * writer (image/takedown.ts): its `deleted` verdict, then every object of it, and only
 * then the takedown announced on hearth.images.takedown, which every colo's purger and
 * every warmer follow. The announcement's acknowledgement is the delete's: from then on
 * every path of the photo answers 410 at the origin, and each colo purges it.
 *
 * A repeat is safe: the objects are looked for again (a crash may have left some), the
 * first verdict's time stands, and the takedown is announced again (a purge is idempotent).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Producer } from 'kafkajs';
import { Validator, loadConfig, logSection } from '../common/index.js';
import { deletePhoto, readSecrets, type Secrets } from '../image/index.js';
import { TOPICS, producerSection, takedownValidator, type Takedown } from '../kafka/index.js';
import type { ObjectStore } from '../store/index.js';
import { storeOption } from '../store/index.js';

export const DeleteConfigSchema = Type.Object(
  {
    store: storeOption('every object of the photo is removed from it'),
    kafka: producerSection(),
    log: logSection(),
  },
  { additionalProperties: false },
);
export type DeleteConfig = Static<typeof DeleteConfigSchema>;

const validator = new Validator(DeleteConfigSchema, 'delete config');

export function loadDeleteConfig(file?: string, overrides: Record<string, unknown> = {}): DeleteConfig {
  return loadConfig({ what: 'delete config', validator, file, overrides });
}

export interface Deleted {
  id: string;
  /** Store objects removed now (0 on a repeat that found nothing left). */
  removed: number;
  /** When the verdict was first written (ISO 8601). */
  deletedAt: string;
  /** When the takedown was acknowledged by the broker (epoch ms): the delete's moment. */
  acknowledged: number;
  first: boolean;
  partition?: number;
  offset?: string;
}

/** The announcement of a photo deleted (the store holds nothing of it now). */
export function deleteTakedown(id: string, by: string, secrets?: Secrets): Takedown {
  const takedown: Takedown = { id, action: 'delete', by, ts: Date.now(), ...(secrets ? { secrets: { size: secrets.size, original: secrets.original } } : {}) };
  if (!takedownValidator.is(takedown)) throw new Error(takedownValidator.problems(takedown).join('; '));
  return takedown;
}

/** One photo deleted and announced; `by` says who asked (a person, a system, a takedown reference). */
export async function deleteAndAnnounce(store: ObjectStore, producer: Producer, id: string, by: string): Promise<Deleted> {
  const outcome = await deletePhoto(store, id, by);
  const takedown = deleteTakedown(id, by, await readSecrets(store, id));
  const [meta] = await producer.send({ topic: TOPICS.takedown, messages: [{ key: id, value: JSON.stringify(takedown) }] });
  return {
    id,
    removed: outcome.removed.length,
    deletedAt: outcome.at,
    acknowledged: Date.now(),
    first: outcome.first,
    partition: meta?.partition,
    offset: meta?.baseOffset,
  };
}
