import { defineStatusSection, type RedisReader, type SectionHeadlineReason } from '../../runtime/contract/index.js';
import { type BadgeCase } from '../../schemas/status/views.js';
import { duration as formatDuration } from '../../schemas/status/format.js';
import { epochMs } from '../../domain/epoch.js';
import { readBudgetHash } from '../../schemas/budget.js';
import { parseNumber } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { p33Prefixes } from '../positions/book.js';
import type { RiskBudgetConfig } from './config.js';

/**
 * The budget engine's section of the status: every budget that exists and every open position.
 * The symbols are those the budget engine computes (our view's open positions and the P3.3 index,
 * flat symbols included), read from the same indexes: no SCAN of the keyspace. (It listed only our
 * view's symbols, so budgets of P3.3 positions never showed: issue #22 item 8.)
 */

export interface BudgetRow {
  readonly symbol: string;
  readonly budget_usd: number | null;
  readonly stress_factor: number | null;
  readonly position_notional_usd: number | null;
  /** |position notional| above its budget: what the budget engine reports as a violation. */
  readonly over_budget: boolean;
  readonly mode: string | null;
  /** Milliseconds since the epoch of the budget computation. */
  readonly computed_at: number | null;
}

/** Symbols listed in the budget table at most. */
export const MAX_SYMBOLS = 200;
/** Budgets older than this are stale: the P28BudgetsStale alert's threshold. */
export const BUDGET_STALE_MS = 60_000;

/** Over budget is the governor's business (it blocks in enforce mode), not an alarm. */
const WITHIN_BADGE: readonly BadgeCase<BudgetRow>[] = [
  { when: { budget_usd: null }, text: 'no budget', tone: 'muted', terminal: 'no' },
  {
    when: { over_budget: true, mode: 'enforce' },
    text: 'OVER budget',
    tone: 'warn',
    title: 'The governor blocks opens of this symbol',
    terminal: 'YES',
  },
  { when: { over_budget: true }, text: 'OVER budget', tone: 'warn', title: 'Shadow: the governor only logs it', terminal: 'YES' },
  { text: 'yes', tone: 'ok', terminal: 'no' },
];

export const budgetsSection = defineStatusSection<RiskBudgetConfig, readonly BudgetRow[]>({
  key: 'budgets',
  title: 'Budgets per symbol',
  shortTitle: 'Budgets',
  order: 20,
  views: [
    {
      shape: 'table',
      caption: 'Risk budget of each symbol with an open position (`quantum:portfolio:budget:{symbol}`)',
      empty: 'No budgets and no open positions.',
      rowHeader: true,
      rowData: { symbol: 'symbol' },
      columns: [
        { key: 'symbol', label: 'Symbol' },
        {
          key: 'budget_usd',
          name: 'budget',
          label: 'Budget (USD)',
          format: 'usd',
          terminal: { label: 'BUDGET USD', format: 'number', digits: 2 },
        },
        { key: 'stress_factor', name: 'stress', label: 'Stress', format: 'number', digits: 3, terminal: { digits: 4 } },
        {
          key: 'position_notional_usd',
          name: 'notional',
          label: 'Position notional (USD)',
          format: 'usd',
          terminal: { label: 'POSITION USD', format: 'number', digits: 2 },
        },
        { key: 'over_budget', name: 'within', label: 'Within budget', badge: WITHIN_BADGE, terminal: { label: 'OVER' } },
        { key: 'mode', label: 'Mode' },
        { key: 'computed_at', name: 'computed', label: 'Computed', format: 'time', ago: true },
      ],
    },
  ],
  read: (ctx) => ctx.read('budgets', () => readBudgets(ctx.redis, p33Prefixes(ctx.config), MAX_SYMBOLS)),
  headline: (budgets, now) => (budgets === null ? [] : budgetReasons(budgets, now)),
});

async function readBudgets(redis: RedisReader, prefixes: readonly string[], maxSymbols: number): Promise<BudgetRow[]> {
  const [viewSymbols, indexed] = await Promise.all([redis.smembers(keys.activePositions), redis.smembers(keys.p33PositionIndex)]);
  const symbols = [...new Set([...viewSymbols, ...indexed])].sort();
  const rows = await Promise.all(
    symbols.map(async (symbol) => {
      const [budget, view, ...ledger] = await Promise.all([
        redis.hgetall(keys.budget(symbol)),
        redis.hgetall(keys.position(symbol)),
        ...prefixes.map((prefix) => redis.hgetall(prefix + symbol)),
      ]);
      return { symbol, budget, notional: newestNotional(view, ledger) };
    }),
  );
  return rows
    .filter(({ budget, notional }) => (notional !== undefined && notional !== 0) || Object.keys(budget).length > 0)
    .slice(0, maxSymbols)
    .map(({ symbol, budget, notional }) =>
      budgetRow(symbol, budget, notional === undefined ? {} : { position_notional_usd: String(notional) }),
    );
}

/** The newest of our view's notional and P3.3's position_amt × mark_price (either layout), by their times. */
function newestNotional(view: Record<string, string>, ledger: readonly Record<string, string>[]): number | undefined {
  let best: { notional: number; atMs: number } | undefined;
  const viewNotional = parseNumber(view.position_notional_usd);
  if (viewNotional !== undefined) best = { notional: viewNotional, atMs: parseNumber(view.updated_at) ?? 0 };
  for (const hash of ledger) {
    const amt = parseNumber(hash.position_amt);
    const mark = parseNumber(hash.mark_price);
    const ts = parseNumber(hash.ts_epoch);
    if (amt === undefined || mark === undefined || ts === undefined) continue;
    const atMs = epochMs(ts) ?? 0;
    if (best === undefined || atMs > best.atMs) best = { notional: amt * mark, atMs };
  }
  return best?.notional;
}

export function budgetRow(symbol: string, raw: Record<string, string>, position: Record<string, string>): BudgetRow {
  const budget = readBudgetHash(raw);
  const budgetUsd = numberOrNull(budget.budget_usd);
  const notional = numberOrNull(position.position_notional_usd);
  const ts = numberOrNull(budget.timestamp);
  return {
    symbol,
    budget_usd: budgetUsd,
    stress_factor: numberOrNull(budget.stress_factor),
    position_notional_usd: notional,
    over_budget: budgetUsd !== null && notional !== null && Math.abs(notional) > budgetUsd,
    mode: budget.mode || null,
    // The budget engine writes epoch seconds; the one epoch rule reads any unit, or none.
    computed_at: ts === null ? null : (epochMs(ts) ?? null),
  };
}

/** DEGRADED while an open position has no budget (the governor skips its check) or budgets are stale. */
export function budgetReasons(
  budgets: readonly Pick<BudgetRow, 'symbol' | 'budget_usd' | 'computed_at'>[],
  now: number,
): SectionHeadlineReason[] {
  const out: SectionHeadlineReason[] = [];
  const missing = budgets.filter((b) => b.budget_usd === null).map((b) => b.symbol);
  if (missing.length > 0)
    out.push({
      state: 'DEGRADED',
      text: `no budget for ${list(missing)}: the governor allows their plans without a budget check`,
      since: null,
    });
  const stale = budgets.filter((b) => b.budget_usd !== null && (b.computed_at === null || now - b.computed_at > BUDGET_STALE_MS));
  if (stale.length > 0) {
    const times = stale.map((b) => b.computed_at).filter((t): t is number => t !== null);
    const oldest = times.length > 0 ? Math.min(...times) : null;
    out.push({
      state: 'DEGRADED',
      text: `budgets stale for ${list(stale.map((b) => b.symbol))}${oldest === null ? '' : `: oldest computed ${formatDuration(now - oldest)} ago`}`,
      since: oldest,
    });
  }
  return out;
}

/** At most five names, then how many more. */
function list(names: readonly string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

function numberOrNull(value: string | undefined | null): number | null {
  return parseNumber(value) ?? null;
}
