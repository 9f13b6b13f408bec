/**
 * Every way the runtime tries something again, and how far it goes: one object, listed row by
 * row in docs/architecture.md ("Retry policy"; test/unit/retry-policy-doc.test.ts holds the two
 * together). Three more bounds are the operator's settings (runtime/host/config.ts):
 * MAX_DELIVERIES, COMMIT_BACKOFF_MAX_MS and CLAIM_IDLE_MS; and a gate's own `handle` is retried
 * as its declaration says (failure.maxAttempts, failure.backoffMs × 2^(attempt−1)).
 */
export const retryPolicy = {
  /** Rounds of re-running, on fresh data, a message whose commit guard lost a race; then it is left pending for redelivery. */
  conflictRounds: 100,
  /** Pause before re-running a message that waits for an earlier entry of its stream (orderBy) to commit. */
  waitForEarlierMs: 20,
  /** First pause after a refused or unanswered commit; it doubles per failure up to COMMIT_BACKOFF_MAX_MS, until the commit applies or the runtime stops. */
  commitFirstPauseMs: 50,
  /** Tries at adding the BullMQ jobs a committed message scheduled, back to back; then they are logged as not scheduled. */
  jobAddAttempts: 3,
  /** Attempts BullMQ gives a job whose commit did not apply (it threw), the first pause doubling between them. */
  jobAttempts: 5,
  jobFirstPauseMs: 1000,
  /** The stream consumer's pause after a failed read or commit: this much per consecutive error, up to the cap. */
  consumerPauseStepMs: 200,
  consumerPauseMaxMs: 2000,
  /** Consecutive loop errors after which a consumer reports itself stuck (/ready): one may be a blip. */
  consumerErrorsBeforeFault: 3,
  /** Reconnecting to Redis (ioredis's retryStrategy), for ever: this much per attempt, up to the cap. */
  reconnectStepMs: 50,
  reconnectMaxMs: 2000,
  /** The same for a Redis Cluster's node map (clusterRetryStrategy). */
  clusterReconnectStepMs: 100,
  clusterReconnectMaxMs: 2000,
  /** How often a consumer looks again while Redis is stalled, and a connection that is not ready yet. */
  stalledPollMs: 100,
  readyPollMs: 250,
} as const;

/** `firstMs` × 2^(n−1), at most `capMs` (n counts failures from 1). */
export function doubling(firstMs: number, n: number, capMs: number): number {
  return Math.min(capMs, firstMs * 2 ** Math.min(n - 1, 20));
}

/** `stepMs` × n, at most `capMs`. */
export function linear(stepMs: number, n: number, capMs: number): number {
  return Math.min(capMs, stepMs * n);
}
