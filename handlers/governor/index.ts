import { defineHandler, metricsAsHealth } from '../../runtime/handler.js';
import { applyPlanSchema } from '../../schemas/apply-plan.js';
import { limitsOf, parseGovernorConfig, type GovernorConfig } from './config.js';
import { shouldDisarm, tripDisarm, failClosed } from './disarm.js';
import { evaluate, overBudget } from './gates.js';
import { governorMetrics } from './metrics.js';
import { isExecute, planFacts } from './plan.js';
import { bookPositionSource, type PositionSource } from './positions.js';
import { planFingerprint } from './fingerprint.js';
import { recordBlock, recordPermit, recordReuse } from './record.js';
import { loadShared, loadSnapshot, type SharedState } from './snapshot.js';

export interface GovernorOptions {
  /** Where open positions come from; the shared position book by default. */
  readonly positions?: PositionSource;
}

/**
 * P3.2 Governor: the last gate before real orders. Every EXECUTE plan ends with exactly one of
 * quantum:permit:{plan_id} (TTL 60 s; the Apply Layer executes only while it exists) or
 * quantum:governor:block:{plan_id}, and an entry in quantum:stream:governor.events.
 */
export function createGovernor(options: GovernorOptions = {}) {
  const positions = options.positions ?? bookPositionSource;
  return defineHandler({
    name: 'governor',
    description: 'P3.2 governor: permits or blocks each apply plan (kill switch, caps, cooldowns, P2.8 budget)',
    trigger: { kind: 'stream', stream: (c: GovernorConfig) => c.STREAM_PLANS, group: (c: GovernorConfig) => c.GOV_GROUP },
    input: applyPlanSchema,
    config: parseGovernorConfig,
    metrics: governorMetrics,
    // The governor always enforces its own caps; P28_MODE only governs the budget gate.
    mode: () => 'enforce',
    // prometheus_client's start_http_server (METRICS_PORT) answered every path with the metrics.
    health: metricsAsHealth,
    loadBatchState: (redis, config: GovernorConfig, now): Promise<SharedState> => loadShared(redis, config, positions, now),
    failure: { maxAttempts: 3, backoffMs: 50, policy: 'fail-closed', fallback: failClosed },
    async handle(plan, ctx) {
      if (!isExecute(plan)) {
        ctx.metrics.skipped.inc({ reason: 'not_execute' });
        ctx.log.debug({ decision: plan.decision ?? null }, 'plan is not EXECUTE; skipped');
        return;
      }
      const { config } = ctx;
      const now = ctx.now();
      const loaded = await loadSnapshot(ctx.redis, ctx.state!, plan.symbol, plan.plan_id, config, now, positions);
      const { coordination } = loaded;
      let { snapshot } = loaded;
      // At most one permit per plan_id, however often it comes (a reclaim, a replay, an upstream
      // retry): remembered for GOV_PERMIT_MEMORY_SEC, far beyond the permit's own TTL.
      const fingerprint = planFingerprint(plan);
      if (coordination.permitted) {
        if (coordination.permitted.fingerprint === null || coordination.permitted.fingerprint === fingerprint) {
          ctx.metrics.skipped.inc({ reason: 'already_permitted' });
          ctx.log.info({}, 'plan_id already permitted once; not permitted again');
        } else {
          recordReuse(ctx, plan);
        }
        return;
      }
      if (shouldDisarm(config.GOV_ENABLE_AUTO_DISARM, snapshot.disarmed, coordination.recentErrors, config.GOV_DISARM_ON_ERROR_COUNT)) {
        tripDisarm(ctx, 'governor_errors', coordination.recentErrors);
        snapshot = { ...snapshot, disarmed: true };
      }

      const limits = limitsOf(config);
      const facts = planFacts(plan, ctx.meta.producedAt, now, snapshot.markPrice);
      const verdict = evaluate(facts, limits, snapshot);
      if (verdict.kind === 'block') {
        recordBlock(ctx, plan, verdict.reason, { facts, snapshot });
        return;
      }
      if (!facts.isClose && limits.p28Mode === 'shadow' && overBudget(facts, snapshot)) {
        ctx.metrics.p28Shadow.inc({ symbol: plan.symbol });
        ctx.log.warn({ budget_usd: snapshot.budget?.budgetUsd, symbol_notional: snapshot.symbolNotional, trade_notional: facts.notional }, 'P2.8 budget would block (shadow mode: allowing)');
      }
      recordPermit(ctx, plan, facts, snapshot, coordination, verdict.reason, fingerprint);
    },
  });
}

export const governor = createGovernor();
