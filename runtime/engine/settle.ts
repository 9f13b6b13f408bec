import type { EffectFailure } from './batch-script.js';
import { retryPolicy } from './retry-policy.js';
import type { ScheduledJob } from './effects.js';
import { chainJobs } from './job-chain.js';
import { describeError, type DecisionTape } from './execute.js';
import type { Logger as RootLogger } from 'pino';
import type { Delivery } from './delivery.js';
import { applyMetricCalls, type RuntimeMetrics } from './metrics.js';
import { classifyRedisError } from './redis-errors.js';

export interface JobSink {
  add(jobs: readonly ScheduledJob[]): Promise<void>;
}

export interface SettleDeps {
  readonly handlerName: string;
  readonly metrics: RuntimeMetrics;
  readonly jobs: JobSink;
  readonly log: RootLogger;
  readonly tape?: DecisionTape | undefined;
}

/** What follows a commit (metrics, failure hooks, scheduled jobs), only for what applied: nothing counts twice. */
export class Settler {
  constructor(private readonly deps: SettleDeps) {}

  async committed(items: readonly Delivery[]): Promise<void> {
    const { metrics, handlerName } = this.deps;
    this.deps.tape?.committed(handlerName, items);
    const jobs: ScheduledJob[] = [];
    const outcomes = new Map<string, number>();
    const deadLetters = new Map<string, number>();
    const lost = new Map<string, number>();
    for (const { recorder, outcome } of items) {
      if (recorder) {
        applyMetricCalls(recorder.metricCalls);
        jobs.push(...chainJobs(recorder.jobs));
      }
      outcomes.set(outcome.kind, (outcomes.get(outcome.kind) ?? 0) + 1);
      if (outcome.kind === 'dead-letter') deadLetters.set(outcome.reason, (deadLetters.get(outcome.reason) ?? 0) + 1);
      if (outcome.kind === 'dead-letter-lost') lost.set(outcome.reason, (lost.get(outcome.reason) ?? 0) + 1);
    }
    for (const [reason, count] of lost) metrics.deadLettersLost.inc({ handler: handlerName, reason }, count);
    for (const [outcome, count] of outcomes) metrics.messages.inc({ handler: handlerName, outcome }, count);
    for (const [reason, count] of deadLetters) metrics.deadLetters.inc({ handler: handlerName, reason }, count);
    if (jobs.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deps.jobs.add(jobs);
      } catch (error) {
        if (attempt < retryPolicy.jobAddAttempts) continue;
        this.deps.log.error({ err: describeError(error), jobs: jobs.length }, 'could not schedule jobs');
        return;
      }
    }
  }

  /** Dead letters trimmed by DLQ_MAXLEN: counted, and warned of in a line that never changes, so the logger throttles it. */
  trimmed(count: number): void {
    if (count <= 0) return;
    this.deps.metrics.deadLettersTrimmed.inc({ handler: this.deps.handlerName }, count);
    this.deps.log.warn(
      "dead letters were trimmed from this gate's dead-letter stream (DLQ_MAXLEN reached); quantum_gates_dead_letters_trimmed_total counts them",
    );
  }

  /** Messages acknowledged without their effects (onlyIfNewer): only their onSkip hook's updates count. */
  superseded(items: readonly Delivery[]): void {
    if (items.length === 0) return;
    for (const item of items) if (item.recorder) applyMetricCalls(item.recorder.skippedMetricCalls());
    this.deps.metrics.messages.inc({ handler: this.deps.handlerName, outcome: 'superseded' }, items.length);
  }

  /** Writes Redis refused (their messages are committed again): each effect's onFail runs, and the cause is logged. */
  writeFailures(failures: readonly EffectFailure<Delivery>[]): void {
    for (const failure of failures) {
      failure.effect?.onFail?.();
      this.deps.log.error(
        { err: failure.error.message, cause: classifyRedisError(failure.error).cause, entry: failure.item?.entryId },
        'a write was refused; the message stays pending and its commit is retried',
      );
    }
  }
}
