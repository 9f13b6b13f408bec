import { Redis } from 'ioredis';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import { afterAll, beforeAll } from 'vitest';
import { positionIndex } from '../../handlers/positions/index-job.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import { TransactionCommitter } from '../../runtime/engine/commit.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { directReads, executeBatch, type Reads } from '../../runtime/engine/execute.js';
import { immediatePace, silentLogger } from './execution-env.js';
import { RecordedMetrics, recordingMetricFactory } from './fake-ctx.js';

/**
 * A committer on its own connection to the suite's private Redis, as the runtime gives it one
 * (WATCH and MULTI are per connection), opened before the suite and closed after it.
 */
export function usePrivateCommitter(redis: { readonly url: string }): { readonly committer: TransactionCommitter } {
  let connection: Redis | undefined;
  let committer: TransactionCommitter | undefined;
  beforeAll(() => {
    connection = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    committer = new TransactionCommitter(connection, 10_000);
  });
  afterAll(async () => {
    await connection?.quit();
  });
  return {
    get committer() {
      if (committer === undefined) throw new Error('usePrivateCommitter: read the committer inside a test');
      return committer;
    },
  };
}

/**
 * One message (a stream entry's fields, or a job's data) decided by `handler` at clock `now` through
 * the runtime's own path on a real Redis: the handler, its retries and its failure policy
 * (executeBatch, with no waits between tries), then its effects committed by `committer`. Resolves
 * with the delivery, or rejects naming why it was not decided.
 */
export async function decideOnce(
  handler: AnyHandler,
  redis: RedisReader,
  committer: TransactionCommitter,
  now: number,
  raw: Record<string, string>,
  env: Readonly<Record<string, string>> = {},
  /** The deciding clock: `now` itself unless given (the clock property gives Redis's as a host reads it, redis-clock.ts). */
  clock?: Pick<Reads, 'now' | 'syncClock'>,
): Promise<Delivery> {
  const config = handler.config(env) as object;
  const metrics = handler.metrics(recordingMetricFactory(new RecordedMetrics()), config as never) as object;
  const id = `${now}-1`;
  const delivery = new Delivery({ id, raw, producedAt: now }, raw, 1, undefined);
  delivery.message = handler.input.parse(raw);
  delivery.valid = true;
  // The runtime's pace without its waits: a try Redis did not answer (a cut connection) is held and
  // tried again until it does, no pause between tries (the backoff is the runtime's business, not a test's).
  const reads = directReads(redis, clock?.now ?? (() => now), clock?.syncClock);
  let rejected: string | undefined;
  await executeBatch(
    handler,
    { reads, config, metrics, logger: () => silentLogger },
    [delivery],
    (_d, reason, detail) => (rejected = `${reason}: ${detail}`),
    immediatePace(),
  );
  if (rejected !== undefined || delivery.recorder === undefined) throw new Error(`not decided: ${rejected ?? delivery.outcome.kind}`);
  await committer.commit(undefined, [delivery]);
  return delivery;
}

/**
 * One refresh of the position index (handlers/positions/index-job.ts) at clock `now`, as the job
 * runner runs it (decideOnce), with no sweep unless `env` asks. Resolves with how its commit ended.
 */
export async function refreshPositionIndex(
  redis: RedisReader,
  committer: TransactionCommitter,
  now: number,
  env: Readonly<Record<string, string>> = {},
): Promise<string> {
  const delivery = await decideOnce(positionIndex, redis, committer, now, {}, { POSITION_INDEX_SCAN_STEPS: '0', ...env });
  return String(delivery.answer);
}
