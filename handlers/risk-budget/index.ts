import * as z from 'zod';
import { defineHandler, type HandlerContext } from '../../runtime/contract/index.js';
import { keys, streams } from '../../schemas/keys.js';
import { p33KeyWatch } from '../positions/book.js';
import { parseRiskBudgetConfig, type RiskBudgetConfig } from './config.js';
import { loadBudgetInputs, type BudgetInputs } from './inputs.js';
import { riskBudgetMetrics, type RiskBudgetMetrics } from './metrics.js';
import { planBudgets, type BudgetPlan } from './plan.js';
import { lastKnownGoodFields } from './portfolio.js';
import { riskBudgetHealth } from './health.js';
import { budgetRoutes } from './http-api.js';
import { budgetsSection } from './status.js';
import { encodeBudgetHash, encodeBudgetViolationEntry } from '../../schemas/budget.js';

type Ctx = HandlerContext<RiskBudgetConfig, BudgetInputs, RiskBudgetMetrics>;

/** quantum:stream:budget.violation is capped near this many entries (MAXLEN ~), as the original. */
export const violationStreamMaxLen = 1000;

/** What the job runner hands a scheduler tick: BullMQ's job id (repeat:<scheduler>:<ms>) and time. */
export const budgetTickSchema = z.looseObject({
  job_id: z.string().min(1).optional(),
  scheduled_at: z.number().optional(),
});

/**
 * P2.8 Portfolio Risk Governor's budget engine: on every scheduler tick, a stress-aware budget
 * per active symbol (seed 002), from fresh or last-known-good portfolio state (seed 003), and a
 * violation event for every position over its budget. Fail-open: without usable portfolio state
 * it writes no budgets, and the governor allows when a budget is missing.
 */
export const riskBudget = defineHandler({
  name: 'risk-budget',
  description: 'P2.8 risk budget: quantum:portfolio:budget:{symbol} every BUDGET_COMPUTE_INTERVAL_SEC, violations to budget.violation',
  trigger: { kind: 'schedule', queue: 'risk-budget', everyMs: (c: RiskBudgetConfig) => c.BUDGET_COMPUTE_INTERVAL_SEC * 1000 },
  input: budgetTickSchema,
  config: parseRiskBudgetConfig,
  metrics: riskBudgetMetrics,
  mode: (config) => config.P28_MODE,
  // Every P3.3 write before a tick is in its budgets (book.ts p33KeyWatch).
  keyWatch: p33KeyWatch,
  batch: { loadState: (redis, config, now) => loadBudgetInputs(redis, config, now) },
  // A budget hash is read alone (the governor reads its plan's symbol's), as the original wrote them: one by one.
  own: { writes: (key) => key.startsWith(keys.budget('')) },
  http: { health: riskBudgetHealth, routes: budgetRoutes, status: [budgetsSection] },
  failure: {
    maxAttempts: 3,
    backoffMs: 50,
    // Fail-open: a tick that cannot be computed writes nothing; existing budgets age out by TTL
    // and the governor allows when a budget is missing. The next tick tries again.
    policy: 'fail-open',
    fallback: (tick, failure, ctx) => {
      ctx.log.error({ tick: tick.job_id, attempts: failure.attempts }, 'budget tick failed; no budgets written (fail-open)');
      ctx.summarize({ budgets_written: 0, violations: 0, portfolio_state: 'none', failed_attempts: failure.attempts });
    },
  },
  // A tick is a job: the runtime records it as done in its commit. Were BullMQ ever to deliver a
  // tick twice (stalled-job recovery), the second run finds it done, or its commit fails and it
  // re-runs and finds it done; either way it lands here, never in handle.
  idempotency: {
    onDuplicate: (tick, ctx) => {
      ctx.metrics.duplicateTicks.inc();
      ctx.log.warn({ tick: tick.job_id }, 'tick already computed by another run; skipping');
      ctx.summarize({ budgets_written: 0, duplicate_tick: true });
    },
  },
  async handle(tick, ctx) {
    await record(planBudgets(ctx.state, ctx.config, ctx.now()), ctx);
  },
});

/**
 * Budgets recorded between two turns of the event loop: the gates deciding in the same process
 * go on between them, where a universe of 2,000 symbols held them for 70-95 ms every tick.
 */
const BUDGETS_A_TURN = 100;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function record(plan: BudgetPlan, ctx: Ctx): Promise<void> {
  const { config, metrics } = ctx;
  const onFail = () => metrics.redisWriteFail.inc();
  const nowMs = ctx.now();

  // The tick's return value in the dashboard: what it saw and wrote, and from which portfolio state.
  const violations = plan.kind === 'budgets' ? plan.budgets.filter((b) => b.positionNotional !== undefined && b.violation).length : 0;
  ctx.summarize({
    symbols: ctx.state.symbols.length,
    budgets_written: plan.kind === 'budgets' ? plan.budgets.length : 0,
    violations,
    portfolio_state: plan.kind === 'no_budgets' ? 'none' : plan.portfolio.kind === 'fresh' ? 'fresh' : 'last-known-good',
    ...(plan.kind === 'budgets' ? { heat_source: plan.heat.source } : {}),
  });

  if (plan.kind === 'no_budgets') {
    // The original fetched the state once per symbol and counted once per symbol: nothing at all
    // when there are no symbols.
    for (const _symbol of plan.symbols) {
      if (plan.portfolio.lkgTooOld) metrics.tooOld.inc();
      metrics.staleInput.inc({ input_type: 'portfolio_state' });
    }
    if (plan.symbols.length > 0) {
      ctx.log.warn(
        { problem: plan.portfolio.problem, cacheAgeSec: plan.portfolio.cacheAgeSec },
        'no usable portfolio state; no budgets written (fail-open)',
      );
    }
    return;
  }

  const { portfolio, heat } = plan;
  if (plan.budgets.length === 0) {
    // Nothing to compute, as the original's "No active symbols, skipping budget compute": a tick done.
    metrics.lastSuccess.set(nowMs / 1000);
    return;
  }
  if (portfolio.kind === 'fresh') {
    // Ours, without a TTL: a copy that is too old must still be seen as one (p28_portfolio_too_old_total).
    ctx.put(keys.budgetPortfolioLkg, lastKnownGoodFields(portfolio.state, nowMs), { replace: true, onFail });
  } else {
    for (const _budget of plan.budgets) metrics.lkgUsed.inc();
    ctx.log.info({ problem: portfolio.problem, cacheAgeSec: Math.round(portfolio.cacheAgeSec) }, 'using last-known-good portfolio state');
  }
  if (heat.source === 'fallback') ctx.log.warn({ problem: heat.problem }, 'portfolio heat unavailable; using 0.0');

  const timestampSec = Math.floor(nowMs / 1000);
  for (const [at, budget] of plan.budgets.entries()) {
    if (at > 0 && at % BUDGETS_A_TURN === 0) await nextTurn();
    const fields = encodeBudgetHash({
      symbol: budget.symbol,
      budgetUsd: budget.budgetUsd,
      stressFactor: budget.stress,
      equityUsd: portfolio.state.equityUsd,
      portfolioHeat: heat.value,
      clusterStress: budget.clusterStress,
      volRegime: budget.volRegime,
      mode: config.P28_MODE,
      timestampSec,
      baseRiskPct: config.BASE_RISK_PCT,
    });
    // HSET then EXPIRE, as the original: fields someone else put in the hash stay.
    ctx.put(keys.budget(budget.symbol), fields, { ttlSec: config.BUDGET_HASH_TTL_SEC, onFail });
    metrics.computed.inc({ symbol: budget.symbol });
    metrics.budgetValue.set({ symbol: budget.symbol }, budget.budgetUsd);
    metrics.stressFactor.set({ symbol: budget.symbol }, budget.stress);
    if (budget.positionNotional === undefined) continue;
    // The original's check_budget_violation (never called there; seed 002 says violations are
    // published): its event and its counters, blocks on a violation whatever the mode.
    if (budget.violation) {
      const event = {
        event_type: 'budget.violation' as const,
        symbol: budget.symbol,
        ...budget.violation,
        mode: config.P28_MODE,
        timestamp: timestampSec,
      };
      ctx.emit(streams.budgetViolation, encodeBudgetViolationEntry(event), { maxLen: violationStreamMaxLen, onFail });
      // In shadow a violation is an observation (it is on the stream, the metrics and the status
      // page) and comes every tick per symbol; in enforce it blocks opens, which deserves a warning.
      if (config.P28_MODE === 'enforce') ctx.log.warn(event, 'budget violation');
      else ctx.log.debug(event, 'budget violation');
      metrics.blocks.inc({ symbol: budget.symbol });
    } else {
      metrics.allow.inc({ symbol: budget.symbol });
    }
  }
  // Deferred like every handler metric: it moves only once this tick's budgets have committed.
  metrics.lastSuccess.set(nowMs / 1000);
}
