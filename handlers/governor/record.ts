import type { Fields } from '../../runtime/effects.js';
import type { HandlerContext } from '../../runtime/handler.js';
import type { ApplyPlan } from '../../schemas/apply-plan.js';
import { KILL_SWITCH_OFF_VALUES } from '../../domain/kill-switch.js';
import { keys } from '../../schemas/keys.js';
import type { GovernorConfig } from './config.js';
import type { GovernorMetrics } from './metrics.js';
import type { PlanFacts } from './plan.js';
import type { AllowReason, BlockReason } from './reasons.js';
import { HOUR_MS, type Coordination, type GovernorSnapshot } from './snapshot.js';

export type GovernorCtx = HandlerContext<GovernorConfig, unknown, GovernorMetrics>;

export const COOLDOWN_QUEUE = 'governor-cooldown';
/** The version key outlives any window it protects; when it lapses the next permit starts at 1. */
const VERSION_TTL_SEC = 86_400;

const seconds = (ms: number) => String(ms / 1000);

/** BullMQ rejects ':' in custom job ids, so the id is dash-separated (symbols never hold ':'). */
export function cooldownJobId(symbol: string, startedAt: number): string {
  return `cooldown-${symbol}-${startedAt}`;
}

/**
 * Both decisions require that the plan_id was never permitted, checked at commit: of two replicas
 * deciding one plan_id one permit commits, and no block lands on a plan already permitted. A
 * blocked plan_id may be decided again (a later block replaces the earlier one).
 */
function guardNotPermitted(ctx: GovernorCtx, planId: string): void {
  ctx.requireAbsent(keys.permit(planId));
  ctx.requireAbsent(keys.governorPermitted(planId));
}

function auditFields(plan: ApplyPlan, facts: PlanFacts | undefined, snapshot: GovernorSnapshot | undefined, ctx: GovernorCtx, now: number): Record<string, string> {
  const fields: Record<string, string> = {
    plan_id: plan.plan_id,
    symbol: plan.symbol,
    action: plan.action,
    decision: plan.decision ?? '',
    side: plan.side ?? '',
    source_id: ctx.meta.id,
    timestamp: seconds(now),
  };
  if (facts) {
    Object.assign(fields, {
      kind: facts.isClose ? 'close' : 'open',
      computed_qty: String(facts.qty ?? 0),
      computed_notional: String(facts.notional ?? 0),
      kill_score: facts.killScore === undefined ? '' : String(facts.killScore),
      plan_age_sec: String(Math.round(facts.ageSec * 1000) / 1000),
    });
  }
  if (snapshot) {
    Object.assign(fields, {
      exec_count_hour: String(snapshot.execLastHour),
      exec_count_5min: String(snapshot.execLast5Min),
      open_positions: String(snapshot.openPositions),
      total_notional: String(snapshot.totalNotional),
    });
  }
  return fields;
}

/**
 * A permit, and the bookkeeping every permit carries in the same commit: the execution history,
 * the symbol's cooldown and its version.
 *
 * Race design: two replicas may evaluate opens of one symbol at the same moment, each on a
 * snapshot without the other's permit. Every permit therefore guards on the symbol's version
 * key (the value it read, or its absence) and bumps it; an open permit also requires the
 * cooldown key to be absent and sets it with TTL = cooldown. Guards are checked under WATCH at
 * commit, so the second replica's commit fails, nothing of it applies, and the runtime re-runs
 * it on fresh data, where it sees the cooldown (or, with cooldown 0, the exact execution counts)
 * and blocks. The version guard is what keeps the hourly and 5-minute counts exact when the
 * cooldown is 0, and what orders a close against a racing open.
 */
export function recordPermit(
  ctx: GovernorCtx,
  plan: ApplyPlan,
  facts: PlanFacts,
  snapshot: GovernorSnapshot,
  coordination: Coordination,
  reason: AllowReason,
  fingerprint: string,
): void {
  const { config, metrics } = ctx;
  const now = snapshot.now;
  const symbol = plan.symbol;
  guardNotPermitted(ctx, plan.plan_id);
  // Safety switches take effect at commit, not at read: a permit commits only if the kill switch
  // is still off (and, for an open, the governor still armed) in its own transaction. Otherwise
  // the plan is decided again on fresh data, and blocked.
  ctx.requireOff(keys.killSwitch, KILL_SWITCH_OFF_VALUES);
  if (!facts.isClose) ctx.requireAbsent(keys.governorDisarm);

  const versionKey = keys.governorSymbolVersion(symbol);
  if (coordination.version === null) ctx.requireAbsent(versionKey);
  else ctx.requireValue(versionKey, coordination.version);
  ctx.setKey(keys.governorPermitted(plan.plan_id), fingerprint, { ttlSec: config.GOV_PERMIT_MEMORY_SEC });
  const previous = Number(coordination.version);
  ctx.setKey(versionKey, String(Number.isSafeInteger(previous) ? previous + 1 : 1), { ttlSec: VERSION_TTL_SEC });

  const computedQty = facts.qty ?? 0;
  const computedNotional = facts.notional ?? 0;
  ctx.setKey(
    keys.permit(plan.plan_id),
    JSON.stringify({
      granted: true,
      symbol,
      decision: 'EXECUTE',
      computed_qty: computedQty,
      computed_notional: computedNotional,
      created_at: now / 1000,
      consumed: false,
    }),
    { ttlSec: config.GOV_PERMIT_TTL_SEC },
  );

  const execKey = keys.governorExecutions(symbol);
  ctx.addToSortedSet(execKey, now, plan.plan_id, { ttlSec: HOUR_MS / 1000 });
  ctx.trimSortedSet(execKey, now - HOUR_MS);

  // Closes start a cooldown too (as the original did) so an open cannot follow a close at once,
  // but they never wait for one: only opens require it absent.
  const cooldownSec = config.GOV_SYMBOL_COOLDOWN_SECONDS;
  const cooldownKey = keys.governorCooldown(symbol);
  if (cooldownSec > 0) {
    if (!facts.isClose) ctx.requireAbsent(cooldownKey);
    const until = now + cooldownSec * 1000;
    ctx.setKey(cooldownKey, JSON.stringify({ plan_id: plan.plan_id, started_at: now, until }), { ttlSec: cooldownSec });
    ctx.schedule({
      queue: COOLDOWN_QUEUE,
      name: 'cooldown-expired',
      data: { symbol, plan_id: plan.plan_id, started_at: now, until },
      delayMs: cooldownSec * 1000,
      jobId: cooldownJobId(symbol, now),
    });
  }

  const fields: Fields = { event: 'permit', ...auditFields(plan, facts, snapshot, ctx, now), reason };
  ctx.emit(config.STREAM_EVENTS, fields);

  metrics.allow.inc({ symbol });
  metrics.execHour.set({ symbol }, snapshot.execLastHour + 1);
  metrics.exec5Min.set({ symbol }, snapshot.execLast5Min + 1);
  ctx.log.info(
    { reason, action: plan.action, computed_qty: computedQty, computed_notional: computedNotional },
    facts.isClose ? `ALLOW ${symbol} close (${plan.action}): bypassing fund caps` : `ALLOW ${symbol} open: all gates passed`,
  );
}

/** A block. Needs no symbol guard: a racing permit can only make the situation more blocked. */
export function recordBlock(
  ctx: GovernorCtx,
  plan: ApplyPlan,
  reason: BlockReason,
  context: { facts?: PlanFacts; snapshot?: GovernorSnapshot; error?: string } = {},
): void {
  const { config, metrics } = ctx;
  // The decision's moment: the snapshot's clock when there is one, so every field agrees.
  const now = context.snapshot?.now ?? ctx.now();
  guardNotPermitted(ctx, plan.plan_id);
  ctx.setKey(keys.governorBlock(plan.plan_id), JSON.stringify({ reason, timestamp: now / 1000, symbol: plan.symbol }), {
    ttlSec: config.GOV_BLOCK_TTL_SEC,
  });
  const fields: Record<string, string> = { event: 'block', ...auditFields(plan, context.facts, context.snapshot, ctx, now), reason };
  if (context.error !== undefined) fields.error = context.error.slice(0, 2000);
  ctx.emit(config.STREAM_EVENTS, fields);

  metrics.block.inc({ symbol: plan.symbol, reason });
  if (context.snapshot) {
    metrics.execHour.set({ symbol: plan.symbol }, context.snapshot.execLastHour);
    metrics.exec5Min.set({ symbol: plan.symbol }, context.snapshot.execLast5Min);
  }
  ctx.log.warn({ reason, action: plan.action, ...blockDetail(reason, context.facts, context.snapshot) }, `BLOCKED ${plan.symbol} plan ${plan.plan_id.slice(0, 8)} - ${reason}`);
}

/** The numbers behind a block, for the log line. */
function blockDetail(reason: BlockReason, facts: PlanFacts | undefined, snapshot: GovernorSnapshot | undefined): Record<string, unknown> {
  if (reason === 'symbol_cooldown' && snapshot?.cooldown?.untilMs !== undefined) {
    return { cooldown_remaining_sec: Math.max(0, (snapshot.cooldown.untilMs - snapshot.now) / 1000) };
  }
  if (reason === 'plan_too_old') return { plan_age_sec: facts?.ageSec };
  if (reason === 'total_notional_exceeded') return { total_notional: snapshot?.totalNotional, trade_notional: facts?.notional };
  if (reason === 'notional_per_trade_exceeded') return { trade_notional: facts?.notional };
  if (reason === 'rate_limit_hour' || reason === 'rate_limit_5min') return { exec_hour: snapshot?.execLastHour, exec_5min: snapshot?.execLast5Min };
  if (reason === 'max_positions_reached') return { open_positions: snapshot?.openPositions };
  if (reason === 'kill_score_critical') return { kill_score: facts?.killScore };
  return {};
}

/**
 * A plan_id that was permitted once comes again with other content (symbol, side, size or
 * action): it is not evaluated, the first permit stands, and the reuse is reported as a block
 * event (no key is written: the plan_id's permit is the first plan's).
 */
export function recordReuse(ctx: GovernorCtx, plan: ApplyPlan): void {
  const now = ctx.now();
  ctx.emit(ctx.config.STREAM_EVENTS, { event: 'block', ...auditFields(plan, undefined, undefined, ctx, now), reason: 'plan_id_reused' });
  ctx.metrics.block.inc({ symbol: plan.symbol, reason: 'plan_id_reused' });
  ctx.log.warn({ action: plan.action, side: plan.side ?? null }, 'plan_id already permitted for a different plan: blocked and reported');
}

