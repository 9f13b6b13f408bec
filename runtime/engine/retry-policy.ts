/**
 * Every way the runtime tries something again, and how far it goes: each row is described in
 * docs/architecture.md ("Retry policy"; test/unit/retry-policy-doc.test.ts holds the two together).
 */
export const retryPolicy = {
  conflictRounds: 100,
  waitForEarlierMs: 20,
  commitFirstPauseMs: 50,
  refusalRepeats: 3,
  jobAddAttempts: 3,
  jobAttempts: 5,
  jobFirstPauseMs: 1000,
  consumerPauseStepMs: 200,
  consumerPauseMaxMs: 2000,
  consumerErrorsBeforeFault: 3,
  reconnectStepMs: 50,
  reconnectMaxMs: 2000,
  clusterReconnectStepMs: 100,
  clusterReconnectMaxMs: 2000,
  stalledPollMs: 100,
} as const;

export function linear(stepMs: number, n: number, capMs: number): number {
  return Math.min(capMs, stepMs * n);
}
