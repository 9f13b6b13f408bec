import { OUTCOME_QUEUE, parseOutcomeConfig } from '../../handlers/outcomes/config.js';
import { governorOutcomes } from '../../handlers/outcomes/governor-follow-up.js';
import { heatOutcomes } from '../../handlers/outcomes/heat-follow-up.js';
import { outcomeSample } from '../../handlers/outcomes/sample.js';
import type { AnyHandler, StreamTrigger } from '../../runtime/host/index.js';
import { decideBatch, Delivery, type DecisionEnv } from '../../runtime/host/replay.js';
import { shadowDecisionEnv, shadowReject } from './decision-env.js';
import { SHADOW_OUTCOME_JOBS } from './namespace.js';
import { queueOutcomeEffects, type OutcomeTargets, type ShadowOutcomeJob } from './outcome-effects.js';
import { outcomeReader } from './outcome-reader.js';
import { queueShadowRecords } from './record-batch.js';
import type { ShadowRecord } from './record.js';
import type { ShadowTickerDeps } from './ticker.js';

/**
 * As a scheduled gate's (ticker.ts): the commands connection, the live reader, the shadow's clock
 * (Redis's, as its gates decide on: horizons fall due on it), the host's (whose `every` looks for
 * due samples) and the bound of SHADOW_OUTCOMES.
 */
export type ShadowOutcomesDeps = Pick<ShadowTickerDeps, 'env' | 'redis' | 'gateReader' | 'clock' | 'host' | 'maxLen' | 'onError'>;

/** How often due samples are looked for: a sample is taken within this of its horizon (OUTCOME_LATE_SEC is 5 s). */
const SAMPLE_EVERY_MS = 1_000;
/** Sample jobs decided together. */
const JOBS_AT_ONCE = 100;

interface Follower {
  readonly handler: AnyHandler;
  /** The stream it follows (its trigger's): a shadow decision's emit there is followed. */
  readonly stream: string;
  readonly env: DecisionEnv;
}

/**
 * The outcome follow-ups of the shadow's own decisions: what the live follow-ups (handlers/outcomes)
 * would have done had the shadow's decisions been sent. Each decision's recorded emit to a followed
 * stream (the governor's events, the heat gate's decisions) is decided by that follow-up through
 * the engine's decideBatch, and each sample job it schedules by the sample handler at its horizon,
 * on the shadow's clock: the same code as the live samples, with their keys, stream and jobs kept
 * under quantum:shadow: (outcome-effects.ts) and their own keys read from there (outcome-reader.ts).
 * One at a time, in order: a follow-up reads the pending index the one before it wrote. Beside the
 * Python services, whose governor records no event the follow-ups could read, these are the only
 * samples a verdict difference is priced from (cli/shadow/price.ts).
 */
export class ShadowOutcomes {
  private readonly followers: readonly Follower[];
  private readonly sampler: DecisionEnv;
  private readonly targets: OutcomeTargets;
  private chain: Promise<void> = Promise.resolve();
  private stopTimer: (() => void) | undefined;

  constructor(private readonly deps: ShadowOutcomesDeps) {
    const config = parseOutcomeConfig(deps.env);
    const reader = outcomeReader(deps.gateReader);
    const envOf = (handler: AnyHandler) => shadowDecisionEnv(handler, handler.config(deps.env), reader, deps.clock);
    this.followers = [governorOutcomes, heatOutcomes].map((handler: AnyHandler) => {
      return { handler, stream: (handler.trigger as StreamTrigger<unknown>).stream(handler.config(deps.env)), env: envOf(handler) };
    });
    this.sampler = envOf(outcomeSample);
    this.targets = { stream: config.OUTCOME_STREAM, queue: OUTCOME_QUEUE, maxLen: deps.maxLen };
  }

  /** Looks for due samples every second from now on. */
  start(): void {
    this.stopTimer = this.deps.host.every(SAMPLE_EVERY_MS, () => void this.sampleDue());
  }

  /** Follows what a batch of the shadow's decisions emitted to a followed stream (after whatever is under way). */
  follow(records: readonly ShadowRecord[]): Promise<void> {
    return this.then(() => this.followAll(records));
  }

  /** Takes every sample due by the shadow's clock (after whatever is under way). */
  sampleDue(): Promise<void> {
    return this.then(() => this.takeDue());
  }

  /** No more sampling; the follow-ups and samples under way finished. */
  async stop(): Promise<void> {
    this.stopTimer?.();
    await this.chain;
  }

  private then(step: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(step).catch((error: unknown) => this.deps.onError?.(error));
    return this.chain;
  }

  private async followAll(records: readonly ShadowRecord[]): Promise<void> {
    for (const follower of this.followers) {
      const deliveries = records.flatMap((record) =>
        record.effects
          .filter((e): e is { op: 'emit'; stream: string; fields: Record<string, string> } => isEmitTo(e, follower.stream))
          // The follow-up is named by the input the shadow decided (its stream id; a decision emits one event
          // a stream), and made when the shadow decided it, as the live one by the event's entry.
          .map(
            (e, i) =>
              new Delivery({ id: i === 0 ? record.id : `${record.id}~${i}`, raw: e.fields, producedAt: record.at }, e.fields, 1, undefined),
          ),
      );
      if (deliveries.length > 0) await this.decide(follower.handler, follower.env, deliveries);
    }
  }

  private async takeDue(): Promise<void> {
    const { redis, clock } = this.deps;
    for (;;) {
      await clock.sync();
      const now = clock.now();
      const due = await redis.zrangebyscore(SHADOW_OUTCOME_JOBS, '-inf', now, 'LIMIT', 0, JOBS_AT_ONCE);
      if (due.length === 0) return;
      const deliveries = due.flatMap((member) => {
        const job = parseJob(member);
        return job === undefined ? [] : [new Delivery({ id: job.jobId, raw: {}, producedAt: now }, job.data, 1, undefined)];
      });
      try {
        await this.decide(outcomeSample, this.sampler, deliveries);
      } finally {
        // Taken once, as the shadow's decisions are (a throw is reported, never retried): a job that
        // ran but was not removed (a stop in between) finds its sample key and writes nothing again.
        await redis.zrem(SHADOW_OUTCOME_JOBS, ...due);
      }
      if (due.length < JOBS_AT_ONCE) return;
    }
  }

  /**
   * Decides the deliveries as the runtime would (each run of a commitEach gate after the one before
   * it is applied) and applies each one's effects under the shadow's namespace.
   */
  private async decide(handler: AnyHandler, env: DecisionEnv, deliveries: readonly Delivery[]): Promise<void> {
    const details = new Map<Delivery, string>();
    for (let run: readonly Delivery[] = deliveries; run.length > 0;) {
      const later = await decideBatch(handler, env, run, shadowReject(details));
      const tx = this.deps.redis.multi();
      const now = this.deps.clock.now();
      for (const delivery of run) {
        if (later.includes(delivery) || delivery.recorder === undefined) continue;
        if (delivery.outcome.kind === 'handled' || delivery.outcome.kind === 'fallback')
          queueOutcomeEffects(tx, delivery.recorder, this.targets, now);
      }
      // What the follow-ups would have dead-lettered: the shadow's own dead letters.
      if (later.length === 0) queueShadowRecords(tx, handler.name, this.targets.maxLen, [], details);
      await tx.exec();
      run = later;
    }
  }
}

function isEmitTo(effect: unknown, stream: string): boolean {
  const e = effect as { op?: unknown; stream?: unknown; fields?: unknown };
  return e.op === 'emit' && e.stream === stream && typeof e.fields === 'object' && e.fields !== null;
}

function parseJob(member: string): ShadowOutcomeJob | undefined {
  try {
    const job = JSON.parse(member) as ShadowOutcomeJob;
    return typeof job.jobId === 'string' && typeof job.data === 'object' ? job : undefined;
  } catch {
    return undefined;
  }
}
