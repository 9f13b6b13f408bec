import type { Redis } from 'ioredis';
import { positionIndex } from '../../handlers/positions/index-job.js';
import type { TransactionCommitter } from '../../runtime/engine/commit.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { executeBatch, type ExecutionEnv } from '../../runtime/engine/execute.js';
import { silentLogger } from './execution-env.js';
import { RecordedMetrics, recordingMetricFactory } from './fake-ctx.js';

/**
 * One refresh of the position index (handlers/positions/index-job.ts) at clock `now`, through the
 * runtime's own path on a real Redis: the handler, its retries, and its effects committed by
 * `committer`, as the job runner runs it. `env` is the job's environment (POSITION_P33_SYMBOLS, …).
 * Resolves with how it ended: committed, or the failure policy's outcome.
 */
export async function refreshPositionIndex(
  redis: Redis,
  committer: TransactionCommitter,
  now: number,
  env: Readonly<Record<string, string>> = {},
): Promise<string> {
  const config = positionIndex.config({ POSITION_INDEX_SCAN_STEPS: '0', ...env });
  const metrics = positionIndex.metrics(recordingMetricFactory(new RecordedMetrics()), config);
  const id = `${now}-0`;
  const delivery = new Delivery({ id, raw: {}, producedAt: now }, {}, 1, undefined);
  delivery.message = positionIndex.input.parse({});
  delivery.valid = true;
  const executionEnv: ExecutionEnv<typeof config, typeof metrics> = {
    redis,
    config,
    metrics,
    now: () => now,
    logger: () => silentLogger,
    redisReady: () => true,
    waitForRedis: async () => undefined,
    stopping: () => false,
    sleep: async () => undefined,
    onRetry: () => undefined,
  };
  let rejected: string | undefined;
  await executeBatch(positionIndex, executionEnv, [delivery], (_d, reason, detail) => (rejected = `${reason}: ${detail}`));
  if (rejected !== undefined) return `rejected: ${rejected}`;
  if (delivery.recorder === undefined) return delivery.outcome.kind;
  await committer.commit(undefined, [delivery]);
  return delivery.answer === 'committed' ? 'committed' : String(delivery.answer);
}
