import { REDIS_STATE_CAUSES, redisFailureCause, type RedisFailureCause } from '../contract/redis-refusals.js';

/** What went wrong with a Redis call: the label of quantum_gates_commit_failures_total, a closed set (runtime/contract/redis-refusals.ts). */
export type { RedisFailureCause };

export interface ClassifiedError {
  readonly cause: RedisFailureCause;
  /** True when Redis refuses every write for now: the system's fault, not the batch's. */
  readonly refusesWrites: boolean;
  /** True when the cause is Redis's state (REDIS_STATE_CAUSES): the message is held and retried, never charged. */
  readonly redisState: boolean;
  /** One line, safe to log. */
  readonly message: string;
}

const WRITE_REFUSALS: readonly RedisFailureCause[] = ['oom', 'readonly', 'misconf', 'noreplicas'];

export function classifyRedisError(error: unknown): ClassifiedError {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
  const cause = redisFailureCause(message);
  return { cause, refusesWrites: WRITE_REFUSALS.includes(cause), redisState: REDIS_STATE_CAUSES.includes(cause), message };
}
