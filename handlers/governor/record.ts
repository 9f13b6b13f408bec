import type { HandlerContext } from '../../runtime/contract/index.js';
import type { ApplyPlan } from '../../schemas/apply-plan.js';
import { KILL_SWITCH_OFF_VALUES } from '../../domain/kill-switch.js';
import { encodeGovernorEvent, type DecisionEvent } from '../../schemas/governor-event.js';
import { encodeBlockRecord, encodePermit } from '../../schemas/governor-records.js';
import { keys } from '../../schemas/keys.js';
import { pyFloatStr, pySeconds } from '../../schemas/python-number.js';
import { sideSign } from '../../domain/side.js';
import type { GovernorConfig } from './config.js';
import { encodeDecisionInputs } from './decision-inputs.js';
import { DAILY_TTL_SEC, EXEC_HISTORY_LENGTH, EXEC_HISTORY_TTL_SEC, LAST_EXEC_TTL_SEC } from './history.js';
import type { GovernorMetrics } from './metrics.js';
import type { PlanFacts } from './plan.js';
import type { AllowReason, BlockReason } from './reasons.js';
import { encodeReservation, nextVersion, type Reservation } from './reservations.js';
import type { Coordination, GovernorSnapshot, PlanState } from './snapshot.js';

/** The batch state may be missing in a failure policy's fallback (loading it may be what failed). */
export type GovernorCtx = HandlerContext<GovernorConfig, PlanState | undefined, GovernorMetrics>;

export const COOLDOWN_QUEUE = 'governor-cooldown';
/** The version key outlives any window it protects; when it lapses the next permit starts at 1. */
const VERSION_TTL_SEC = 86_400;

/** BullMQ rejects ':' in custom job ids, so the id is dash-separated (symbols never hold ':'). */
export function cooldownJobId(symbol: string, startedAt: number): string {
  return `cooldown-${symbol}-${startedAt}`;
}

function decisionEvent(
  event: 'permit' | 'block',
  reason: string,
  plan: ApplyPlan,
  facts: PlanFacts | undefined,
  snapshot: GovernorSnapshot | undefined,
  ctx: GovernorCtx,
  now: number,
  error?: string,
): DecisionEvent {
  const str = (n: number | undefined) => (n === undefined ? undefined : String(n));
  const quote = snapshot?.markQuote;
  return {
    event,
    plan_id: plan.plan_id,
    symbol: plan.symbol,
    action: plan.action,
    decision: plan.decision ?? '',
    side: plan.side ?? '',
    source_id: ctx.meta.id,
    timestamp: pySeconds(now),
    reason,
    apply_mode: ctx.config.APPLY_MODE,
    kind: facts === undefined ? undefined : facts.isClose ? 'close' : 'open',
    computed_qty: facts === undefined ? undefined : String(facts.qty ?? 0),
    computed_notional: facts === undefined ? undefined : String(facts.notional ?? 0),
    kill_score: facts === undefined ? undefined : String(facts.killScore),
    plan_age_sec: facts === undefined ? undefined : String(Math.round(facts.ageSec * 1000) / 1000),
    exec_count_hour: str(snapshot?.execLastHour),
    exec_count_5min: str(snapshot?.execLast5Min),
    open_positions: str(snapshot?.openPositions),
    total_notional: str(snapshot?.totalNotional),
    unpriced_positions: snapshot?.unpricedPositions?.length ? snapshot.unpricedPositions.join(',') : undefined,
    unreadable_listings: snapshot?.unreadableListings?.length ? snapshot.unreadableListings.join(',') : undefined,
    refused_inputs: snapshot?.refusedInputs?.length ? snapshot.refusedInputs.join(',') : undefined,
    reservations: str(snapshot?.reservations),
    reserved_positions: str(snapshot?.reservedPositions),
    reserved_notional: str(snapshot?.reservedNotional),
    mark_price: str(snapshot?.markPrice),
    error: error?.slice(0, 2000),
    decision_inputs: facts === undefined || snapshot === undefined ? undefined : encodeDecisionInputs(facts, snapshot),
    // Where mark_price came from, named as the heat gate names it (absent: no fresh quote).
    mark_source: quote?.source,
    mark_at: str(quote?.asOfMs),
    // Signed: a quote stamped ahead of the clock (within the allowed skew) is of negative age.
    mark_age_ms: quote?.asOfMs === undefined ? undefined : String(now - quote.asOfMs),
  };
}

/**
 * Appends this execution to quantum:governor:exec:{symbol} in the original's format. A leftover of
 * another type (an earlier quantum-gates' sorted set, anything else) is replaced by the list,
 * carrying over the times it held, so no open ever fails on WRONGTYPE.
 */
function recordExecution(ctx: GovernorCtx, symbol: string, snapshot: GovernorSnapshot): void {
  const key = keys.governorExecutions(symbol);
  const history = snapshot.execHistory;
  if (history.type !== 'list' && history.type !== 'none') {
    ctx.remove(key);
    for (const time of [...history.times].reverse()) ctx.add(key, pyFloatStr(time), { to: 'list', maxLength: EXEC_HISTORY_LENGTH });
  }
  ctx.add(key, pySeconds(snapshot.now), { to: 'list', maxLength: EXEC_HISTORY_LENGTH, ttlSec: EXEC_HISTORY_TTL_SEC });
}

/**
 * A permit, and the bookkeeping the original writes with it in the same commit: the execution
 * history (every path), last_exec (testnet) and the daily total (production).
 *
 * Race design: two replicas may evaluate plans of one symbol at the same moment, each on a
 * snapshot without the other's permit. Every permit therefore guards on the symbol's version
 * key (the value it read, or its absence) and bumps it. Guards are checked under WATCH at commit,
 * so the second replica's commit fails, nothing of it applies, and the runtime re-runs it on
 * fresh data, where it sees the first permit's last_exec (cooldown), execution history (hourly
 * and burst limits) and daily total, and blocks.
 */
export function recordPermit(
  ctx: GovernorCtx,
  plan: ApplyPlan,
  facts: PlanFacts,
  snapshot: GovernorSnapshot,
  coordination: Coordination,
  verdict: { readonly reason: AllowReason; readonly computedQty: number; readonly computedNotional: number },
  fingerprint: string,
): void {
  const { config, metrics } = ctx;
  const now = snapshot.now;
  const symbol = plan.symbol;
  const mode = config.APPLY_MODE;
  // That the plan_id was never permitted is guarded by the runtime (the declaration's idempotency).
  // Safety switches take effect at commit, not at read: a permit commits only if the kill switch
  // is still off (and, for an open, the governor still armed) in its own transaction. Otherwise
  // the plan is decided again on fresh data, and blocked. The switch is checked as still holding
  // the value this decision read (an off one), in the commit's own script: no read before it.
  ctx.require(keys.killSwitch, { is: 'off', offValues: KILL_SWITCH_OFF_VALUES, read: coordination.killSwitch });
  if (!facts.isClose) ctx.require(keys.governorDisarm, { is: 'absent' });

  const versionKey = keys.governorSymbolVersion(symbol);
  ctx.require(versionKey, { is: 'holding', value: coordination.version });
  ctx.put(keys.governorPermitted(plan.plan_id), fingerprint, { ttlSec: config.GOV_PERMIT_MEMORY_SEC });
  const previous = Number(coordination.version);
  const symbolVersion = String(Number.isSafeInteger(previous) ? previous + 1 : 1);
  ctx.put(versionKey, symbolVersion, { ttlSec: VERSION_TTL_SEC });
  if (mode === 'testnet' && !facts.isClose) reserve(ctx, plan, facts, snapshot, coordination);
  if (mode === 'production' && facts.isClose) {
    // Upstream's exit lock (857b05342): taken with the permit, released by the close's fill.
    const lockKey = keys.governorExitLock(symbol);
    ctx.require(lockKey, { is: 'holding', value: snapshot.exitLockHolder });
    ctx.put(lockKey, plan.plan_id, { ttlSec: config.GOV_EXIT_LOCK_TTL_SEC });
  }

  ctx.put(
    keys.permit(plan.plan_id),
    encodePermit({
      granted: true,
      symbol,
      decision: 'EXECUTE',
      computed_qty: verdict.computedQty,
      computed_notional: verdict.computedNotional,
      created_at: now / 1000,
      consumed: false,
    }),
    { ttlSec: config.GOV_PERMIT_TTL_SEC },
  );
  recordExecution(ctx, symbol, snapshot);

  if (mode === 'testnet') {
    // Closes start a cooldown too (as the original: setex last_exec after a close) but never wait for one.
    ctx.put(keys.governorLastExec(symbol), pySeconds(now), { ttlSec: LAST_EXEC_TTL_SEC });
    const cooldownSec = config.GOV_SYMBOL_COOLDOWN_SECONDS;
    if (cooldownSec > 0) {
      const until = now + cooldownSec * 1000;
      ctx.schedule({
        queue: COOLDOWN_QUEUE,
        name: 'cooldown-expired',
        data: { symbol, plan_id: plan.plan_id, started_at: now, until },
        delayMs: cooldownSec * 1000,
        jobId: cooldownJobId(symbol, now),
      });
    }
  }
  if (mode === 'production') {
    const dailyAdded = verdict.computedNotional > 0 ? verdict.computedNotional : verdict.computedQty;
    ctx.put(snapshot.dailyKey, pyFloatStr(snapshot.dailyTotal + dailyAdded), { ttlSec: DAILY_TTL_SEC });
  }

  ctx.emit(config.STREAM_EVENTS, encodeGovernorEvent(decisionEvent('permit', verdict.reason, plan, facts, snapshot, ctx, now)));

  metrics.allow.inc({ symbol });
  metrics.execHour.set({ symbol }, snapshot.execLastHour + 1);
  metrics.exec5Min.set({ symbol }, snapshot.execLast5Min + 1);
  ctx.log.info(
    {
      reason: verdict.reason,
      action: plan.action,
      apply_mode: mode,
      computed_qty: verdict.computedQty,
      computed_notional: verdict.computedNotional,
    },
    facts.isClose && mode === 'testnet'
      ? `ALLOW ${symbol} close (${plan.action}): bypassing fund caps`
      : `ALLOW ${symbol} plan ${plan.plan_id.slice(0, 8)}: permit issued`,
  );
}

/**
 * An open's reservation (issue #23): its priced notional and, on a symbol with no open position,
 * a position slot count as exposure until the position shows in the book or the reservation
 * times out. The permit guards on the cap version its decision read and bumps it, so of two
 * permits decided on the same reservations only the first commits: the other is decided again and
 * sees this one.
 */
function reserve(ctx: GovernorCtx, plan: ApplyPlan, facts: PlanFacts, snapshot: GovernorSnapshot, coordination: Coordination): void {
  const now = snapshot.now;
  const own = snapshot.ownPosition;
  const timeoutMs = ctx.config.GOV_RESERVATION_TIMEOUT_SEC * 1000;
  const reservation: Reservation = {
    planId: plan.plan_id,
    symbol: plan.symbol,
    notional: facts.notional ?? 0,
    slot: own === undefined || !(own.qty === undefined ? own.notionalUsd > 0 : Math.abs(own.qty) > 0.0001),
    // No figure at all for the symbol: measured from the last one this process saw (last-figures.ts).
    bookQty: own === undefined ? ctx.state?.lastFigures?.qtyOf(plan.symbol, now - timeoutMs) : own.qty,
    bookNotional: own?.notionalUsd ?? 0,
    orderQty: facts.qty !== undefined && facts.qty > 0 ? facts.qty : undefined,
    direction: sideSign(plan.side),
    reservedAt: now,
    expiresAt: now + timeoutMs,
  };
  const version = nextVersion(coordination.capsVersion);
  ctx.require(keys.governorCapsVersion, { is: 'holding', value: coordination.capsVersion });
  ctx.put(keys.governorCapsVersion, version, { ttlSec: VERSION_TTL_SEC });
  // Expired members stay one more timeout: they take the fills that show late (reservations.ts outstanding).
  ctx.remove(keys.governorReservations, { from: 'sorted-set', scoredAtMost: now - timeoutMs });
  ctx.add(keys.governorReservations, encodeReservation(reservation), {
    to: 'sorted-set',
    score: reservation.expiresAt,
    ttlSec: 2 * ctx.config.GOV_RESERVATION_TIMEOUT_SEC,
  });
  // Watched from this commit on: every book read reads the symbol's P3.3 hashes directly, until a
  // position-index refresh begun after the reservation expired finds its fill in the book (or P3.3
  // saying it flat: it never filled), so the fill counts from the moment it is written whether or
  // not the key watch is live, however late the job runs; until the fill shows, the reservation
  // counts whole. No TTL: never ended by the clock alone (index-job.ts).
  ctx.add(keys.p33PositionIndex, plan.symbol, { to: 'set' });
  ctx.add(keys.p33Watch, plan.symbol, { to: 'sorted-set', score: reservation.expiresAt });
}

/**
 * A block. Needs no symbol guard: a racing permit can only make the situation more blocked; and
 * none for its plan_id: the runtime guards that it was never permitted (idempotency). A blocked
 * plan_id may be decided again (a later block replaces the earlier one).
 */
export function recordBlock(
  ctx: GovernorCtx,
  plan: ApplyPlan,
  reason: BlockReason,
  context: { facts?: PlanFacts; snapshot?: GovernorSnapshot; coordination?: Coordination; error?: string } = {},
): void {
  const { config, metrics } = ctx;
  // The decision's moment: the snapshot's clock when there is one, so every field agrees.
  const now = context.snapshot?.now ?? ctx.now();
  ctx.put(keys.governorBlock(plan.plan_id), encodeBlockRecord({ reason, timestamp: now / 1000, symbol: plan.symbol }), {
    ttlSec: config.GOV_BLOCK_TTL_SEC,
  });
  ctx.emit(
    config.STREAM_EVENTS,
    encodeGovernorEvent(decisionEvent('block', reason, plan, context.facts, context.snapshot, ctx, now, context.error)),
  );

  metrics.block.inc({ symbol: plan.symbol, reason });
  if (context.snapshot) {
    metrics.execHour.set({ symbol: plan.symbol }, context.snapshot.execLastHour);
    metrics.exec5Min.set({ symbol: plan.symbol }, context.snapshot.execLast5Min);
  }
  ctx.log.warn(
    { reason, action: plan.action, ...blockDetail(reason, context.facts, context.snapshot) },
    `BLOCKED ${plan.symbol} plan ${plan.plan_id.slice(0, 8)} - ${reason}`,
  );
}

/** The numbers behind a block, for the log line. */
function blockDetail(reason: BlockReason, facts: PlanFacts | undefined, snapshot: GovernorSnapshot | undefined): Record<string, unknown> {
  if (reason === 'symbol_cooldown' && snapshot?.lastExecSec !== undefined)
    return { since_last_exec_sec: snapshot.now / 1000 - snapshot.lastExecSec };
  if (reason === 'plan_too_old') return { plan_age_sec: facts?.ageSec };
  if (reason === 'total_notional_exceeded') return { total_notional: snapshot?.totalNotional, trade_notional: facts?.notional };
  if (reason === 'notional_per_trade_exceeded') return { trade_notional: facts?.notional };
  if (reason === 'hourly_limit_exceeded' || reason === 'burst_limit_exceeded')
    return { exec_hour: snapshot?.execLastHour, exec_5min: snapshot?.execLast5Min };
  if (reason === 'max_positions_reached') return { open_positions: snapshot?.openPositions };
  if (reason === 'kill_score_critical_non_close') return { kill_score: facts?.killScore };
  if (reason === 'daily_limit_exceeded') return { daily_total: snapshot?.dailyTotal };
  return {};
}

/**
 * A plan_id that was permitted once comes again with other content (symbol, side, size or
 * action): it is not evaluated, the first permit stands, and the reuse is reported as a block
 * event (no key is written: the plan_id's permit is the first plan's).
 */
export function recordReuse(ctx: GovernorCtx, plan: ApplyPlan): void {
  const now = ctx.now();
  ctx.emit(ctx.config.STREAM_EVENTS, encodeGovernorEvent(decisionEvent('block', 'plan_id_reused', plan, undefined, undefined, ctx, now)));
  ctx.metrics.block.inc({ symbol: plan.symbol, reason: 'plan_id_reused' });
  ctx.log.warn({ action: plan.action, side: plan.side ?? null }, 'plan_id already permitted for a different plan: blocked and reported');
}
