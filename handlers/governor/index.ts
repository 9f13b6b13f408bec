import { defineHandler, metricsAsHealth, type MessageMeta } from '../../runtime/contract/index.js';
import { applyPlanSchema, type ApplyPlan } from '../../schemas/apply-plan.js';
import { keys } from '../../schemas/keys.js';
import { limitsOf, parseGovernorConfig, pathLine, type GovernorConfig } from './config.js';
import { errorContext, shouldDisarm, tripDisarm, failClosed } from './disarm.js';
import { evaluate, overBudget } from './gates.js';
import { governorMetrics } from './metrics.js';
import { LastFigures } from './last-figures.js';
import { isExecute, planFacts } from './plan.js';
import type { PlanTimes } from './plan-checks.js';
import { bookPositionSource, type PositionSource } from './positions.js';
import { planFingerprint } from './fingerprint.js';
import { ownWrite } from './own-keys.js';
import { recordBlock, recordPermit, recordReuse, type GovernorCtx } from './record.js';
import { loadPlanState, loadSnapshot, symbolReadsAhead, type Coordination, type GovernorSnapshot, type PlanState } from './snapshot.js';
import { disarmSection, governorDecisionsSection, killSwitchSection, reservationsSection } from './status.js';
import { noteFutureQuotes } from '../positions/prices.js';
import { RefusedFigureNotes } from '../positions/refused-figures.js';
import type { MemoryWrites } from '../positions/memory.js';
import { unknownPositionsSection } from '../positions/status.js';
import { p33KeyWatch, unreadableCause } from '../positions/book.js';

export interface GovernorOptions {
  /** Where open positions come from; the shared position book by default. */
  readonly positions?: PositionSource;
}

/**
 * P3.2 Governor: the last gate before real orders. Every EXECUTE plan ends with exactly one of
 * quantum:permit:{plan_id} (TTL 60 s; the Apply Layer executes only while it exists) or
 * quantum:governor:block:{plan_id}, and an entry in quantum:stream:governor.events. APPLY_MODE
 * picks the original's path: testnet (default), production or dry_run (docs/governor.md).
 */
export function createGovernor(options: GovernorOptions = {}) {
  const positions = options.positions ?? bookPositionSource;
  const lastFigures = new LastFigures();
  const refusedFigures = new RefusedFigureNotes();
  return defineHandler({
    name: 'governor',
    description: 'P3.2 governor: permits or blocks each apply plan on the APPLY_MODE path (testnet, production, dry_run)',
    trigger: { kind: 'stream', stream: (c: GovernorConfig) => c.STREAM_PLANS, group: (c: GovernorConfig) => c.GOV_GROUP },
    input: applyPlanSchema,
    config: parseGovernorConfig,
    metrics: governorMetrics,
    // The governor always enforces its own path's gates.
    mode: () => 'enforce',
    startLine: pathLine,
    // Every P3.3 write before a plan is in its decision (book.ts p33KeyWatch).
    keyWatch: p33KeyWatch,
    // prometheus_client's start_http_server (METRICS_PORT) answered every path with the metrics.
    http: {
      health: metricsAsHealth,
      status: [killSwitchSection, disarmSection, reservationsSection, governorDecisionsSection, unknownPositionsSection],
    },
    batch: {
      loadState: (redis, config: GovernorConfig, now): Promise<PlanState> => loadPlanState(redis, config, positions, now, lastFigures),
      // Each plan decided on every earlier permit, reservation and disarm as committed state: the caps stay exact.
      commitEach: true,
      // A listing of the book Redis refuses: every plan is decided, but no open can be (positions_unreadable).
      stateFault: (state: PlanState) => unreadableCause(state.unreadableListings, 'opens blocked positions_unreadable'),
    },
    // What a plan reads and writes of its own plan_id and symbol; the rest is its state.
    own: {
      reads: (plan, meta, config: GovernorConfig, now) =>
        isExecute(meta.raw.decision) ? symbolReadsAhead(plan.symbol, config, now, positions) : [],
      writes: ownWrite,
    },
    failure: { maxAttempts: 3, backoffMs: 50, policy: 'fail-closed', fallback: failClosed },
    // At most one permit per plan_id, however often it comes (a reclaim, a replay, an upstream
    // retry): a plan_id permitted once is never decided again, its permit remembered for
    // GOV_PERMIT_MEMORY_SEC, far beyond the permit's own TTL. Of two replicas deciding one
    // plan_id, one permit commits, and no block lands on a plan already permitted.
    idempotency: {
      keys: (plan, meta) => (isExecute(meta.raw.decision) ? [keys.governorPermitted(plan.plan_id), keys.permit(plan.plan_id)] : []),
      onDuplicate: async (plan, ctx) => {
        const fingerprint = await ctx.redis.get(keys.governorPermitted(plan.plan_id));
        if (fingerprint === null || fingerprint === planFingerprint(plan)) {
          ctx.metrics.skipped.inc({ reason: 'already_permitted' });
          ctx.log.info({}, 'plan_id already permitted once; not permitted again');
        } else {
          recordReuse(ctx, plan);
        }
      },
    },
    async handle(plan, ctx) {
      if (!isExecute(ctx.meta.raw.decision)) {
        ctx.metrics.skipped.inc({ reason: 'not_execute' });
        ctx.log.debug({ decision: ctx.meta.raw.decision ?? null }, 'plan is not EXECUTE; skipped');
        return;
      }
      const { config } = ctx;
      const now = ctx.now();
      const loaded = await loadSnapshot(ctx.redis, ctx.state, plan.symbol, config, now, positions);
      refusedFigures.note(loaded.snapshot.refusedFigures ?? [], ctx);
      decide(plan, ctx, loaded, now);
      rememberHeld(ctx, ctx.state?.memoryWrites);
    },
  });
}

export const governor = createGovernor();

/**
 * The book's memory, kept by every decision in its own commit (memory.ts says why the decisions):
 * fields changed or new, and forgotten ones written empty (the commit has no field delete; an empty
 * value is no memory).
 */
function rememberHeld(ctx: GovernorCtx, writes: MemoryWrites | undefined): void {
  if (writes === undefined) return;
  const fields = { ...writes.set, ...Object.fromEntries(writes.remove.map((field) => [field, ''])) };
  if (Object.keys(fields).length > 0) ctx.put(keys.positionsHeld, fields);
}

/** One plan's decision on what it read. */
function decide(plan: ApplyPlan, ctx: GovernorCtx, loaded: { snapshot: GovernorSnapshot; coordination: Coordination }, now: number): void {
  const { config } = ctx;
  const { coordination } = loaded;
  let { snapshot } = loaded;
  if (shouldDisarm(config.GOV_ENABLE_AUTO_DISARM, snapshot.disarmed, coordination.recentErrors, config.GOV_DISARM_ON_ERROR_COUNT)) {
    tripDisarm(ctx, 'repeated_errors', errorContext(coordination.recentErrors, config.GOV_DISARM_ON_ERROR_COUNT), snapshot.disarmedToday);
    snapshot = { ...snapshot, disarmed: true, disarmedToday: true };
  }

  ctx.metrics.reservations.set(snapshot.reservations);
  ctx.metrics.reservedNotional.set(snapshot.reservedNotional);
  ctx.metrics.reservationOldestAge.set(
    snapshot.oldestReservationAt === undefined ? 0 : Math.max(0, (now - snapshot.oldestReservationAt) / 1000),
  );

  for (const { symbol, quote } of snapshot.futureQuotes ?? []) noteFutureQuotes(symbol, [quote], now, ctx);
  // Quotes no number or unreadable, of the plan's symbol and of the book's (those stamped ahead are counted above).
  for (const name of snapshot.refusedQuoteCounts ?? []) ctx.metrics.quotesRefused.inc(name);

  const limits = limitsOf(config);
  const facts = planFacts(plan, planTimes(plan, ctx.meta), now, snapshot.markPrice, limits);
  const verdict = evaluate(facts, limits, snapshot);
  if (verdict.kind === 'block') {
    recordBlock(ctx, plan, verdict.reason, { facts, snapshot, coordination: loaded.coordination });
    // production: a burst breach disarms (the original's _trigger_disarm('burst_limit_breach')).
    if (
      verdict.reason === 'burst_limit_exceeded' &&
      config.GOV_ENABLE_AUTO_DISARM &&
      config.GOV_DISARM_ON_BURST_BREACH &&
      !snapshot.disarmed
    ) {
      tripDisarm(
        ctx,
        'burst_limit_breach',
        { symbol: plan.symbol, exec_5min: snapshot.execLast5Min, limit: limits.maxExecPer5Min },
        snapshot.disarmedToday,
      );
    }
    return;
  }
  // testnet: the P2.8 verdict is logged, never enforced ("log only, don't block").
  if (config.APPLY_MODE === 'testnet' && overBudget(facts, limits, snapshot)) {
    ctx.metrics.p28Shadow.inc({ symbol: plan.symbol });
    ctx.log.warn(
      { budget_usd: snapshot.budget?.budgetUsd, symbol_notional: snapshot.symbolNotional, trade_notional: facts.notional },
      'P2.8 budget violation detected (testnet mode - NOT blocking)',
    );
  }
  recordPermit(ctx, plan, facts, snapshot, coordination, verdict, planFingerprint(plan));
}

/**
 * The times that vouch for a plan: its entry, the entry a replayed dead letter was first written
 * as (`original_id`, which `quantum-gates dlq replay` records), and its own timestamp.
 */
function planTimes(plan: ApplyPlan, meta: MessageMeta): PlanTimes {
  const original = meta.raw.original_id;
  const originalEntryMs = original !== undefined && /^\d+-\d+$/.test(original) ? Number.parseInt(original, 10) : undefined;
  return { entryMs: meta.producedAt, originalEntryMs, timestamp: plan.timestamp };
}
