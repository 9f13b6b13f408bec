import type { MetricFactory } from '../../runtime/contract/index.js';
import type { RiskBudgetConfig } from './config.js';

/** The p28_* metrics of the Python service (seeds 002, 003), same names, help and labels. */
export function riskBudgetMetrics(m: MetricFactory, config: Pick<RiskBudgetConfig, 'P28_MODE'>) {
  const metrics = {
    enforceMode: m.gauge({ name: 'p28_enforce_mode', help: 'P2.8 mode: 0=shadow, 1=enforce' }),
    computed: m.counter({ name: 'p28_budget_computed_total', help: 'Total budget computations', labelNames: ['symbol'] }),
    blocks: m.counter({
      name: 'p28_budget_blocks_total',
      help: 'Budget checks that found a violation while P28_MODE=enforce (the governor blocks these)',
      labelNames: ['symbol'],
    }),
    allow: m.counter({
      name: 'p28_budget_allow_total',
      help: 'Budget checks passed (no violation, or shadow mode)',
      labelNames: ['symbol'],
    }),
    staleInput: m.counter({ name: 'p28_stale_input_total', help: 'Total stale input failures (fail-open)', labelNames: ['input_type'] }),
    redisWriteFail: m.counter({ name: 'p28_redis_write_fail_total', help: 'Total Redis write failures' }),
    budgetValue: m.gauge({ name: 'p28_budget_value_usd', help: 'Current budget value in USD', labelNames: ['symbol'] }),
    stressFactor: m.gauge({ name: 'p28_stress_factor', help: 'Current stress factor (0-1)', labelNames: ['symbol'] }),
    lkgUsed: m.counter({ name: 'p28_lkg_cache_used_total', help: 'Portfolio state served from last-known-good cache' }),
    tooOld: m.counter({ name: 'p28_portfolio_too_old_total', help: 'Portfolio state older than MAX_LKG_AGE_SEC (fail-open)' }),
    // Not in the seeds: evidence for "one replica per tick" (a repeated tick is skipped, not recomputed).
    duplicateTicks: m.counter({
      name: 'quantum_risk_budget_duplicate_ticks_total',
      help: 'Scheduler ticks delivered again after another run had already computed them (skipped)',
    }),
    // Not in the seeds: the budgets-stale alert. A counter cannot tell "no tick ran" (a removed
    // job scheduler, a stopped worker) from "nothing to count"; a timestamp can.
    lastSuccess: m.gauge({
      name: 'quantum_risk_budget_last_success_timestamp_seconds',
      help: 'Unix time of the last budget tick that committed its budgets (0 until the first one)',
    }),
  };
  // Set at start, as the original did: the mode, and no successful tick yet.
  metrics.enforceMode.set(config.P28_MODE === 'enforce' ? 1 : 0);
  metrics.lastSuccess.set(0);
  return metrics;
}

export type RiskBudgetMetrics = ReturnType<typeof riskBudgetMetrics>;
