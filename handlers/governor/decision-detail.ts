import type { DecisionEvent, OperatorEvent } from '../../schemas/governor-event.js';
import type { Limits } from './config.js';
import { decodeDecisionInputs } from './decision-inputs.js';

/**
 * The "Detail" of a governor row on the status: the figures a permit or block was decided on, an
 * operator's name and what they touched. The event records the figures the governor saw (its
 * snapshot), not the limits; a limit is shown only where this process hosts the governor, from
 * its settings, and is left out elsewhere rather than guessed from defaults.
 */

/** Characters of an evaluation error shown in a row. */
const ERROR_SHOWN = 160;

const usdFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** "$1,000", "$12.5". */
function usd(value: number): string {
  return `$${usdFormat.format(value)}`;
}

function num(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * "figure > limit unit", or "figure unit" without a limit: where the governor is not hosted here,
 * its cap is off, or the cap no longer holds for the figure (changed since the decision), so a
 * row never states a comparison that is false.
 */
function against(
  figure: number | undefined,
  op: '>' | '≥',
  limit: number | undefined,
  unit: string,
  show: (n: number) => string = String,
): string | undefined {
  if (figure === undefined) return undefined;
  const holds = limit !== undefined && (op === '>' ? figure > limit : figure >= limit);
  return holds ? `${show(figure)} ${op} ${show(limit)} ${unit}` : `${show(figure)} ${unit}`;
}

/** A cap of 0 disables its gate (handlers/governor/gates.ts): no limit to show. */
function cap(limits: Limits | undefined, pick: (l: Limits) => number): number | undefined {
  if (limits === undefined) return undefined;
  const value = pick(limits);
  return value > 0 ? value : undefined;
}

/** The figures behind a block's reason, as far as the event carries them. */
function blockFigures(event: DecisionEvent, limits: Limits | undefined): string | undefined {
  const trade = num(event.computed_notional);
  const book = num(event.total_notional);
  switch (event.reason) {
    case 'notional_per_trade_exceeded':
      return against(
        trade,
        '>',
        cap(limits, (l) => l.maxNotionalPerTrade),
        'per trade',
        usd,
      );
    case 'total_notional_exceeded': {
      if (book === undefined) return undefined;
      const limit = cap(limits, (l) => l.maxTotalNotional);
      // The book alone at the cap, or (GOV_TOTAL_NOTIONAL_COUNTS_TRADE) the book with this trade over it.
      if (limit !== undefined && book < limit && trade !== undefined && book + trade > limit)
        return `book ${usd(book)} + ${usd(trade)} > ${usd(limit)} total`;
      return `book ${against(book, '≥', limit, 'total', usd)}`;
    }
    case 'position_price_unknown':
      return event.unpriced_positions === undefined ? undefined : `no price for ${event.unpriced_positions.split(',').join(', ')}`;
    case 'market_price_unknown':
      return event.refused_inputs === undefined ? undefined : `refused ${event.refused_inputs.split(',').join(', ')}`;
    case 'positions_unreadable':
      return event.unreadable_listings === undefined ? undefined : `cannot read ${event.unreadable_listings.split(',').join(', ')}`;
    case 'max_positions_reached':
      return against(
        num(event.open_positions),
        '≥',
        cap(limits, (l) => l.maxOpenPositions),
        'positions open',
      );
    case 'hourly_limit_exceeded':
      return against(
        num(event.exec_count_hour),
        '≥',
        cap(limits, (l) => l.maxExecPerHour),
        'executions in the last hour',
      );
    case 'burst_limit_exceeded':
      return against(
        num(event.exec_count_5min),
        '≥',
        cap(limits, (l) => l.maxExecPer5Min),
        'executions in 5 min',
      );
    case 'kill_score_critical_non_close': {
      const score = num(event.kill_score);
      const limit = cap(limits, (l) => l.killScoreCritical);
      if (score === undefined) return undefined;
      return limit !== undefined && score >= limit ? `kill score ${score} ≥ ${limit}` : `kill score ${score}`;
    }
    case 'plan_too_old': {
      const age = num(event.plan_age_sec);
      const limit = cap(limits, (l) => l.maxPlanAgeSec);
      if (age === undefined) return undefined;
      return limit !== undefined && age > limit ? `plan ${age} s old > ${limit} s` : `plan ${age} s old`;
    }
    case 'symbol_cooldown': {
      const cooldown = cap(limits, (l) => l.cooldownSec);
      return cooldown === undefined ? undefined : `within the ${cooldown} s cooldown`;
    }
    case 'p28_budget_violation':
      return budgetFigures(event);
    case 'evaluation_error':
      // The error is kept whole in the event (up to 2,000 characters); a row shows its start.
      return event.error === undefined || event.error.length <= ERROR_SHOWN ? event.error : `${event.error.slice(0, ERROR_SHOWN - 1)}…`;
    default:
      return trade !== undefined && trade > 0 ? `trade ${usd(trade)}` : undefined;
  }
}

/**
 * A P2.8 block's figures, from the inputs the decision recorded (decision_inputs): the symbol's
 * position with this trade against its budget and by how much it is over, as the budget engine's
 * tick logs them; or, blocked for a budget.violation in the window, that violation beside them.
 */
function budgetFigures(event: DecisionEvent): string | undefined {
  const inputs = decodeDecisionInputs(event.decision_inputs, event.symbol);
  const budget = inputs?.snapshot.budget;
  if (inputs === undefined || budget === undefined) return undefined;
  const held = inputs.snapshot.symbolNotional;
  const trade = inputs.facts.notional ?? 0;
  const over = held + trade - budget.budgetUsd;
  const position = `position ${usd(held)}${trade > 0 ? ` + ${usd(trade)}` : ''}`;
  if (over > 0) return `${position} > budget ${usd(budget.budgetUsd)} by ${usd(over)}`;
  const figures = `${position} vs budget ${usd(budget.budgetUsd)}`;
  return inputs.snapshot.recentViolation ? `${figures}; a budget.violation in the window` : figures;
}

/** A permit's size where the governor computed one (production); testnet and dry_run carry 0. */
function permitFigures(event: DecisionEvent): string | undefined {
  const notional = num(event.computed_notional);
  const qty = num(event.computed_qty);
  if (notional !== undefined && notional > 0) return `${usd(notional)}${qty ? ` (qty ${qty})` : ''}`;
  return qty ? `qty ${qty}` : undefined;
}

/** "open: $1,000 > $200 per trade"; "close" where there is no figure to show. */
export function decisionDetail(event: DecisionEvent, limits: Limits | undefined): string {
  const figures = event.event === 'block' ? blockFigures(event, limits) : permitFigures(event);
  const side = event.kind ?? event.event;
  return figures ? `${side}: ${figures}` : side;
}

/** Who did it, and what it touched: "by alice@ops-1: 3 entries of quantum:stream:dlq". */
export function operatorDetail(event: OperatorEvent): string {
  const who = `by ${event.actor}@${event.host}`;
  switch (event.event) {
    case 'kill_on':
    case 'kill_off':
    case 'disarm_clear':
    case 'positions_clear': {
      const what = [event.target ? `on ${event.target}` : '', event.previous ? `was ${event.previous}` : ''].filter(Boolean).join(', ');
      return what ? `${who} ${what}` : who;
    }
    case 'dlq_replay':
    case 'dlq_drop': {
      const count = event.count === undefined ? '' : `${event.count} ${event.count === '1' ? 'entry' : 'entries'}`;
      const of = [count, event.dlq_stream ? `of ${event.dlq_stream}` : ''].filter(Boolean).join(' ');
      const forced = event.forced === 'true' || event.forced === '1' ? ' (forced)' : '';
      return of ? `${who}: ${of}${forced}` : `${who}${forced}`;
    }
    case 'bull_board':
      return event.request ? `${who}: ${event.request}${event.status ? ` → HTTP ${event.status}` : ''}` : who;
  }
}

/** An AUTO_DISARM's context ({error_count, threshold} or {symbol, exec_5min, limit}) in words. */
export function disarmDetail(context: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(context);
  } catch {
    return context ? `AUTO_DISARM: ${context}` : 'AUTO_DISARM';
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return 'AUTO_DISARM';
  const c = parsed as Record<string, unknown>;
  if (c.error_count !== undefined) return `AUTO_DISARM: ${String(c.error_count)} errors ≥ ${String(c.threshold ?? '?')}`;
  if (c.exec_5min !== undefined)
    return `AUTO_DISARM: ${c.symbol === undefined ? '' : `${String(c.symbol)} `}${String(c.exec_5min)} executions in 5 min ≥ ${String(c.limit ?? '?')}`;
  const pairs = Object.entries(c).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return pairs.length ? `AUTO_DISARM: ${pairs.join(', ')}` : 'AUTO_DISARM';
}
