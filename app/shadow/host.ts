import type { Redis } from 'ioredis';
import type { AnyHandler, Clock } from '../../runtime/host/index.js';
import { GateReader, RedisClock, redisTimeMs } from '../../runtime/host/replay.js';
import { keys } from '../../schemas/keys.js';
import { ShadowGate } from './gate.js';
import { ShadowOutcomes } from './outcomes.js';
import { ShadowTicker } from './ticker.js';
import {
  SHADOW_DIFFERENCES,
  SHADOW_INCUMBENT_KEYS,
  SHADOW_OUTCOME_JOBS,
  SHADOW_OUTCOMES,
  SHADOW_STATE,
  SHADOW_SUMMARY,
  SHADOW_UNEXPLAINED,
  shadowDecisionsKey,
  shadowOutcomeKey,
} from './namespace.js';
import type { ShadowRecord } from './record.js';

export interface ShadowHostOptions {
  /** A connection to the pipeline's Redis: the shadow makes its own from it (duplicate), named connectionName. */
  readonly base: Redis;
  readonly handlers: readonly AnyHandler[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly host: Clock;
  readonly consumer: string;
  readonly batchSize?: number;
  readonly blockMs?: number;
  readonly maxLen?: number;
  /** The longest a batch waits for the incumbent's group to acknowledge it first (default 1 s; gate.ts afterIncumbent). */
  readonly incumbentFirstMs?: number;
  /** CLIENT SETNAME of its connections: who the shadow is in CLIENT LIST and MONITOR. */
  readonly connectionName?: string;
  readonly onDecided?: (records: readonly ShadowRecord[]) => void;
  readonly onError?: (gate: string, error: unknown) => void;
  /** Redis's clock as the shadow reads it (TIME by default; a test's clock drives the horizons with it). */
  readonly readRedisTime?: () => Promise<number>;
}

/**
 * The gates the shadow hosts, sharing one commands connection and Redis's clock: each stream gate
 * on its own blocking connection (gate.ts), each scheduled gate on its own schedule (ticker.ts).
 */
export class ShadowHost {
  readonly gates: readonly (ShadowGate | ShadowTicker)[];
  /** The outcome follow-ups of its decisions, at their horizons (outcomes.ts). */
  readonly outcomes: ShadowOutcomes;
  private readonly redis: Redis;
  private readonly readers: Redis[] = [];

  constructor(options: ShadowHostOptions) {
    const { base, host } = options;
    const connectionName = options.connectionName ?? 'quantum-gates-shadow';
    this.redis = base.duplicate({ connectionName, enableOfflineQueue: true });
    const clock = new RedisClock(host, options.readRedisTime ?? (async () => redisTimeMs(await this.redis.time())));
    const gateReader = new GateReader(this.redis);
    const maxLen = options.maxLen ?? 80_000;
    const shared = { env: options.env, redis: this.redis, gateReader, clock: { now: clock.now, sync: () => clock.sync() }, host, maxLen };
    this.outcomes = new ShadowOutcomes({ ...shared, onError: (error) => options.onError?.('outcomes', error) });
    const common = {
      ...shared,
      onDecided: (records: readonly ShadowRecord[]) => {
        void this.outcomes.follow(records);
        options.onDecided?.(records);
      },
    };
    this.gates = options.handlers.map((handler) => {
      const onError = (error: unknown) => options.onError?.(handler.name, error);
      if (handler.trigger.kind === 'schedule') return new ShadowTicker({ ...common, handler, onError });
      // A blocking read of its own: no command timeout under it.
      const reader = base.duplicate({ connectionName, enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
      this.readers.push(reader);
      return new ShadowGate({
        ...common,
        handler,
        reader,
        consumer: options.consumer,
        batchSize: options.batchSize ?? 100,
        blockMs: options.blockMs ?? 1_000,
        incumbentFirstMs: options.incumbentFirstMs ?? 1_000,
        onError,
      });
    });
  }

  /** The stream gates: each owns a group on a pipeline stream. */
  private get grouped(): ShadowGate[] {
    return this.gates.filter((gate): gate is ShadowGate => gate instanceof ShadowGate);
  }

  /** The commands connection (the live pairing reads the tape and writes the summary on it). */
  get client(): Redis {
    return this.redis;
  }

  /**
   * A fresh comparison: the shadow's decisions, state, summary, unexplained pairs and outcome
   * samples (with their jobs and pending index) deleted, and its own groups destroyed (each is made
   * again at its stream's end). Its markers and follow-up records are left to expire.
   */
  async reset(): Promise<void> {
    await this.redis.del(
      SHADOW_STATE,
      SHADOW_SUMMARY,
      SHADOW_UNEXPLAINED,
      SHADOW_DIFFERENCES,
      SHADOW_OUTCOMES,
      SHADOW_OUTCOME_JOBS,
      shadowOutcomeKey(keys.outcomePending)!,
      shadowOutcomeKey(keys.outcomePendingVersion)!,
      ...SHADOW_INCUMBENT_KEYS,
      ...this.gates.map((g) => shadowDecisionsKey(g.name)),
    );
    for (const gate of this.grouped) await this.redis.xgroup('DESTROY', gate.stream, gate.group).catch(() => undefined);
  }

  start(): void {
    for (const gate of this.gates) gate.start();
    this.outcomes.start();
  }

  /**
   * Each gate's batch in hand recorded and acknowledged, then its group destroyed: a stopped shadow
   * leaves nothing on the pipeline's streams (no group whose lag grows, nothing pending). Its
   * records stay under quantum:shadow: for the report.
   */
  async stop(): Promise<void> {
    await Promise.all(this.gates.map((gate) => gate.stop()));
    await this.outcomes.stop();
    for (const gate of this.grouped) await this.redis.xgroup('DESTROY', gate.stream, gate.group).catch(() => undefined);
  }

  /** Its connections closed (after stop, and after the last pairing read on `client`). */
  async close(): Promise<void> {
    await Promise.all([this.redis, ...this.readers].map((r) => r.quit().catch(() => r.disconnect())));
  }
}
