import type { Limits } from '../../handlers/governor/config.js';
import { decodeDecisionInputs, type DecisionInputs } from '../../handlers/governor/decision-inputs.js';
import { evaluate } from '../../handlers/governor/gates.js';
import { parseGovernorEvent } from '../../schemas/governor-event.js';
import type { Outcome } from '../../schemas/outcome.js';
import { decisionTime, PnlCollector, type Mismatch, type Reproduction, type WhatIfPnl } from './calibrate-common.js';

/**
 * `report calibrate`, the governor's half: which recorded plans other caps would have permitted
 * or blocked, decided again by the governor's own rule chain (handlers/governor/gates.ts
 * `evaluate`, the function the handler calls) over the inputs each decision recorded in its
 * event (`decision_inputs`). Pure.
 */

export interface GovernorDecisionRecord {
  readonly id: string;
  readonly at: number;
  readonly symbol: string;
  readonly planId: string;
  readonly event: 'permit' | 'block';
  readonly reason: string;
  /** undefined: recorded without inputs (an evaluation error, a reused plan_id, an older governor). */
  readonly inputs: DecisionInputs | undefined;
}

export function governorDecisionRecord(id: string, fields: Readonly<Record<string, string>>): GovernorDecisionRecord | undefined {
  const event = parseGovernorEvent(fields);
  if (event === undefined || (event.event !== 'permit' && event.event !== 'block')) return undefined;
  return {
    id,
    at: decisionTime(event.timestamp, id),
    symbol: event.symbol,
    planId: event.plan_id,
    event: event.event,
    reason: event.reason,
    inputs: decodeDecisionInputs(event.decision_inputs, event.symbol),
  };
}

/** The caps a what-if changes; the rest of the configured limits stay. */
export interface CapSetting {
  readonly maxNotionalPerTrade?: number;
  readonly maxTotalNotional?: number;
  readonly maxOpenPositions?: number;
  readonly cooldownSec?: number;
}

const capNames: Record<string, keyof CapSetting> = {
  GOV_MAX_NOTIONAL_PER_TRADE_USDT: 'maxNotionalPerTrade',
  per_trade: 'maxNotionalPerTrade',
  GOV_MAX_TOTAL_NOTIONAL_USDT: 'maxTotalNotional',
  total: 'maxTotalNotional',
  GOV_MAX_OPEN_POSITIONS: 'maxOpenPositions',
  positions: 'maxOpenPositions',
  GOV_SYMBOL_COOLDOWN_SECONDS: 'cooldownSec',
  cooldown: 'cooldownSec',
};

/** "per_trade=500,cooldown=30" (or the GOV_* names); throws with the reason. */
export function parseCapSetting(text: string): CapSetting {
  const setting: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [name, value, ...rest] = part.split('=').map((s) => s.trim());
    const key = name === undefined ? undefined : capNames[name];
    if (key === undefined || value === undefined || rest.length > 0)
      throw new Error(`"${part.trim()}" is not NAME=VALUE with NAME one of per_trade, total, positions, cooldown (or their GOV_* names)`);
    const n = Number(value);
    if (value === '' || !Number.isFinite(n) || n < 0)
      throw new Error(`"${part.trim()}": the value must be a number ≥ 0 (0 disables the cap)`);
    if ((key === 'maxOpenPositions' || key === 'cooldownSec') && !Number.isInteger(n)) throw new Error(`"${part.trim()}": a whole number`);
    setting[key] = n;
  }
  return setting;
}

export function describeCaps(setting: CapSetting): string {
  const parts = [
    setting.maxNotionalPerTrade === undefined ? '' : `per_trade=${setting.maxNotionalPerTrade}`,
    setting.maxTotalNotional === undefined ? '' : `total=${setting.maxTotalNotional}`,
    setting.maxOpenPositions === undefined ? '' : `positions=${setting.maxOpenPositions}`,
    setting.cooldownSec === undefined ? '' : `cooldown=${setting.cooldownSec}`,
  ].filter(Boolean);
  return parts.length === 0 ? 'configured' : parts.join(',');
}

export interface GovernorWhatIf {
  readonly caps: string;
  readonly limits: Pick<Limits, 'maxNotionalPerTrade' | 'maxTotalNotional' | 'maxOpenPositions' | 'cooldownSec'>;
  /** Recorded decisions decided again (those with recorded inputs). */
  readonly decided: number;
  readonly opens: { readonly permitted: number; readonly blocked: number };
  /** Opens blocked as recorded, permitted here: their PnL is what the block cost (minus its sample). */
  readonly newlyPermitted: readonly string[];
  /** Opens permitted as recorded, blocked here (plan_ids). */
  readonly newlyBlocked: readonly string[];
  /** Block reason → count, over the opens this setting blocks. */
  readonly blockedBy: Readonly<Record<string, number>>;
  /** Counterfactual PnL of the newly permitted opens against the record, per horizon. */
  readonly pnlNewlyPermitted: readonly WhatIfPnl[];
  /**
   * Counterfactual PnL of the newly blocked opens against the record: minus the open's own PnL,
   * from its `governor_permit` samples (a permit recorded before permits were followed has none).
   */
  readonly pnlNewlyBlocked: readonly WhatIfPnl[];
}

export function limitsWith(configured: Limits, setting: CapSetting): Limits {
  return { ...configured, ...setting };
}

/** The outcome samples of governor blocks and permits of opens, by event entry id and horizon. */
export function governorSamplesById(samples: readonly Outcome[]): Map<string, Map<string, Outcome>> {
  const out = new Map<string, Map<string, Outcome>>();
  for (const s of samples) {
    if ((s.kind !== 'governor_block' && s.kind !== 'governor_permit') || !s.decision_id.startsWith('gov:')) continue;
    const id = s.decision_id.slice('gov:'.length);
    const byHorizon = out.get(id) ?? new Map<string, Outcome>();
    if (!byHorizon.has(s.horizon)) byHorizon.set(s.horizon, s);
    out.set(id, byHorizon);
  }
  return out;
}

/**
 * Every recorded decision with inputs, decided again under `setting`. Each plan is judged against
 * the book, reservations and last execution *as they were recorded*: an open this setting would
 * have added or removed is not carried into the later decisions (docs/outcomes.md, "Choosing
 * settings", says what that leaves out).
 */
export function governorWhatIf(
  records: readonly GovernorDecisionRecord[],
  samples: ReadonlyMap<string, ReadonlyMap<string, Outcome>>,
  horizons: readonly string[],
  configured: Limits,
  setting: CapSetting,
): GovernorWhatIf {
  const limits = limitsWith(configured, setting);
  const permittedPnl = horizons.map((h) => new PnlCollector(h));
  const blockedPnl = horizons.map((h) => new PnlCollector(h));
  const newlyPermitted: string[] = [];
  const newlyBlocked: string[] = [];
  const blockedBy: Record<string, number> = {};
  let decided = 0;
  let permitted = 0;
  let blocked = 0;
  for (const r of records) {
    if (r.inputs === undefined) continue;
    decided += 1;
    if (r.inputs.facts.isClose) continue;
    const verdict = evaluate(r.inputs.facts, limits, r.inputs.snapshot);
    if (verdict.kind === 'permit') permitted += 1;
    else {
      blocked += 1;
      blockedBy[verdict.reason] = (blockedBy[verdict.reason] ?? 0) + 1;
    }
    const changed =
      verdict.kind === 'permit' && r.event === 'block'
        ? 'permitted'
        : verdict.kind === 'block' && r.event === 'permit'
          ? 'blocked'
          : undefined;
    if (changed === undefined) continue;
    (changed === 'permitted' ? newlyPermitted : newlyBlocked).push(r.planId);
    const collectors = changed === 'permitted' ? permittedPnl : blockedPnl;
    const own = samples.get(r.id);
    horizons.forEach((horizon, i) => {
      const sample = own?.get(horizon);
      const collector = collectors[i]!;
      if (sample === undefined) return collector.noSample();
      if (sample.pnl_usd === undefined) return collector.missingPrice();
      // Either way the difference is minus the sample: a block's sample is the PnL it kept out
      // (the open's, negated), which permitting takes back; a permit's is the open's own, which
      // blocking gives up.
      collector.priced(r.at, r.symbol, -sample.pnl_usd, undefined, sample.exposure_usd);
    });
  }
  return {
    caps: describeCaps(setting),
    limits: {
      maxNotionalPerTrade: limits.maxNotionalPerTrade,
      maxTotalNotional: limits.maxTotalNotional,
      maxOpenPositions: limits.maxOpenPositions,
      cooldownSec: limits.cooldownSec,
    },
    decided,
    opens: { permitted, blocked },
    newlyPermitted,
    newlyBlocked,
    blockedBy,
    pnlNewlyPermitted: permittedPnl.map((c) => c.result()),
    pnlNewlyBlocked: blockedPnl.map((c) => c.result()),
  };
}

/** Item 4: the configured limits, through the governor's own chain, give every recorded decision and reason. */
export function reproduceGovernor(
  records: readonly GovernorDecisionRecord[],
  configured: Limits,
): Reproduction & { readonly withoutInputs: number } {
  const mismatches: Mismatch[] = [];
  let checked = 0;
  for (const r of records) {
    if (r.inputs === undefined) continue;
    checked += 1;
    const verdict = evaluate(r.inputs.facts, configured, r.inputs.snapshot);
    const recomputed = `${verdict.kind} ${verdict.reason}`;
    const recorded = `${r.event} ${r.reason}`;
    if (recomputed !== recorded) mismatches.push({ id: r.id, recorded, recomputed });
  }
  return {
    checked,
    reproduced: checked - mismatches.length,
    mismatches: mismatches.slice(0, 20),
    withoutInputs: records.length - checked,
  };
}
