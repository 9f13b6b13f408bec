import type { Redis } from 'ioredis';
import type { AnyHandler, Clock, RedisReader, ScheduleTrigger } from '../../runtime/host/index.js';
import { decideBatch, Delivery, type DecisionEnv } from '../../runtime/host/replay.js';
import { shadowDecisionEnv, shadowReject } from './decision-env.js';
import { SHADOW_STATE } from './namespace.js';
import { queueShadowRecords, shadowRecordsOf } from './record-batch.js';
import type { ShadowRecord } from './record.js';
import { periodField, tickId, tickSlot } from './tick.js';

/** What one shadowed scheduled gate needs: the commands connection, the clocks, its limits. */
export interface ShadowTickerDeps {
  readonly handler: AnyHandler;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly redis: Redis;
  readonly gateReader: RedisReader;
  /** Redis's clock (RedisClock): the schedule runs on it, as the incumbent's ticks are stamped by it. */
  readonly clock: { readonly now: () => number; readonly sync: () => Promise<number> };
  readonly host: Clock;
  readonly maxLen: number;
  readonly onDecided?: (records: readonly ShadowRecord[]) => void;
  readonly onError?: (error: unknown) => void;
}

/**
 * A scheduled gate in shadow (the risk budget, P2.8): once a period, in the middle of it, one tick
 * decided through the engine's decideBatch with everything it would write recorded (the budget
 * hashes, the last-known-good copy, the violation events), never sent; its record named by its
 * period (tick.ts). No job: nothing of BullMQ's, no job-done key. Its first tick is the period
 * after the one it starts in, whose incumbent tick may have come before it.
 */
export class ShadowTicker {
  readonly periodMs: number;
  private readonly decisionEnv: DecisionEnv;
  private readonly abort = new AbortController();
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  decided = 0;

  constructor(private readonly deps: ShadowTickerDeps) {
    const { handler } = deps;
    if (handler.trigger.kind !== 'schedule') throw new Error(`${handler.name} is not a scheduled gate`);
    const config: unknown = handler.config(deps.env);
    this.periodMs = (handler.trigger as ScheduleTrigger<unknown>).everyMs(config);
    this.decisionEnv = shadowDecisionEnv(handler, config, deps.gateReader, deps.clock);
  }

  get name(): string {
    return this.deps.handler.name;
  }

  start(): void {
    this.loop = this.run().catch((error: unknown) => this.deps.onError?.(error));
  }

  /** Stops after the tick in hand is recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { redis, clock, host } = this.deps;
    await clock.sync();
    const since = tickSlot(clock.now(), this.periodMs);
    await redis.hset(SHADOW_STATE, `${this.name}:since`, tickId(since), periodField(this.name), this.periodMs);
    let slot = since + this.periodMs;
    while (!this.stopping) {
      // Mid-period: a tick decided late (a slow read) still falls in its own period.
      const wait = slot + this.periodMs / 2 - clock.now();
      if (wait > 0) await host.sleep(wait, this.abort.signal);
      if (this.stopping) return;
      await clock.sync();
      // A shadow that fell behind skips the periods it missed (the incumbent's ticks of them are named unpaired).
      const now = clock.now();
      if (now >= slot + this.periodMs) slot = tickSlot(now, this.periodMs);
      await this.tick(slot);
      slot += this.periodMs;
    }
  }

  /** Decides the tick of the period starting at `slot` and records it. */
  async tick(slot: number): Promise<ShadowRecord | undefined> {
    const id = tickId(slot);
    const scheduledAt = slot + this.periodMs / 2;
    // As the job runner hands a tick (runtime/sources/job-runner.ts): its job id and scheduled time.
    const raw = { job_id: `shadow:${this.name}:${slot}`, scheduled_at: String(scheduledAt) };
    const delivery = new Delivery({ id, raw, producedAt: slot }, { job_id: raw.job_id, scheduled_at: scheduledAt }, 1, undefined);
    const details = new Map<Delivery, string>();
    const failed = new Map<Delivery, string>();
    try {
      await decideBatch(this.deps.handler, this.decisionEnv, [delivery], shadowReject(details));
    } catch (error) {
      failed.set(delivery, error instanceof Error ? error.message : String(error));
    }
    const records = shadowRecordsOf(this.name, [delivery], failed, this.deps.clock.now());
    const tx = this.deps.redis.multi();
    queueShadowRecords(tx, this.name, this.deps.maxLen, records, details);
    tx.hset(SHADOW_STATE, `${this.name}:last`, id);
    await tx.exec();
    this.decided += records.length;
    this.deps.onDecided?.(records);
    return records[0];
  }
}
