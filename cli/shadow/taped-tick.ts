import { SHADOW_STATE, periodField, tickId, tickSlot } from '../../app/cli-door.js';
import type { Decided } from './pair.js';
import type { ShadowReader } from './reader.js';

/** A scheduled gate's period as the shadow ran it (its state's `<gate>:period_ms`); 10 s, P2.8's default, before one has. */
export async function periodOf(redis: ShadowReader, gate: string): Promise<number> {
  const period = Number((await redis.hgetall(SHADOW_STATE))[periodField(gate)]);
  return Number.isFinite(period) && period > 0 ? period : 10_000;
}

/**
 * A taped budget tick named by its period (app/shadow/tick.ts): the period of the time its job
 * was scheduled for, which BullMQ's job scheduler writes in the job id (`repeat:<scheduler>:<ms>`,
 * at a fixed offset into each period: runtime/sources/job-runner.ts), else its `scheduled_at`.
 * Not the hash's whole-second `timestamp`: a tick scheduled just before a period's end would be
 * stamped in the next one.
 */
export function asBudgetTick(record: Decided, periodMs: number): Decided {
  const scheduled = Number(/:(\d+)$/.exec(record.id)?.[1] ?? record.raw.scheduled_at ?? record.producedAt);
  const slot = tickSlot(scheduled, periodMs);
  return { ...record, id: tickId(slot), producedAt: slot };
}
