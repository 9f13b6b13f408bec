import type { DecisionEvent, OperatorEvent } from '../../schemas/governor-event.js';
import type { Limits } from './config.js';

/**
 * The "Detail" of a governor row on the status: the figures a permit or block was decided on, an
 * operator's name and what they touched. The event records the figures the governor saw (its
 * snapshot), not the limits; a limit is shown only where this process hosts the governor, from
 * its settings, and is left out elsewhere rather than guessed from defaults.
 */

/** Characters of an evaluation error shown in a row. */
const ERROR_SHOWN = 160;

const usdFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** "$1,000", "$12.5"; undefined for a field the event does not carry. */
function usd(value: number | undefined): string | undefined {
  return value === undefined ? undefined : `$${usdFormat.format(value)}`;
}

function num(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** "figure > limit unit" with the limit, "figure unit" without one (not hosted here, or off). */
function against(figure: string | undefined, op: string, limit: string | undefined, unit: string): string | undefined {
  if (figure === undefined) return undefined;
  return limit === undefined ? `${figure} ${unit}` : `${figure} ${op} ${limit} ${unit}`;
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
      return against(usd(trade), '>', usd(cap(limits, (l) => l.maxNotionalPerTrade)), 'per trade');
    case 'total_notional_exceeded': {
      const limit = cap(limits, (l) => l.maxTotalNotional);
      // The book alone at the cap, or (GOV_TOTAL_NOTIONAL_COUNTS_TRADE) the book with this trade over it.
      if (book !== undefined && limit !== undefined && book < limit && trade !== undefined)
        return `book ${usd(book)} + ${usd(trade)} > ${usd(limit)} total`;
      return against(book === undefined ? undefined : `book ${usd(book)}`, '≥', usd(limit), 'total');
    }
    case 'max_positions_reached':
      return against(event.open_positions, '≥', cap(limits, (l) => l.maxOpenPositions)?.toString(), 'positions open');
    case 'hourly_limit_exceeded':
      return against(event.exec_count_hour, '≥', cap(limits, (l) => l.maxExecPerHour)?.toString(), 'executions in the last hour');
    case 'burst_limit_exceeded':
      return against(event.exec_count_5min, '≥', cap(limits, (l) => l.maxExecPer5Min)?.toString(), 'executions in 5 min');
    case 'kill_score_critical_non_close': {
      const limit = cap(limits, (l) => l.killScoreCritical);
      return event.kill_score === undefined ? undefined : `kill score ${event.kill_score}${limit === undefined ? '' : ` ≥ ${limit}`}`;
    }
    case 'plan_too_old': {
      const limit = cap(limits, (l) => l.maxPlanAgeSec);
      return event.plan_age_sec === undefined ? undefined : `plan ${event.plan_age_sec} s old${limit === undefined ? '' : ` > ${limit} s`}`;
    }
    case 'symbol_cooldown': {
      const cooldown = cap(limits, (l) => l.cooldownSec);
      return cooldown === undefined ? undefined : `within the ${cooldown} s cooldown`;
    }
    case 'evaluation_error':
      // The error is kept whole in the event (up to 2,000 characters); a row shows its start.
      return event.error === undefined || event.error.length <= ERROR_SHOWN ? event.error : `${event.error.slice(0, ERROR_SHOWN - 1)}…`;
    default:
      return trade !== undefined && trade > 0 ? `trade ${usd(trade)}` : undefined;
  }
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
    case 'disarm_clear': {
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
