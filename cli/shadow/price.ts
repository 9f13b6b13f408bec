import type { Outcome } from '../../schemas/outcome.js';
import { PnlCollector, type WhatIfPnl } from '../report/calibrate-common.js';
import { keptShare } from '../report/calibrate-heat.js';
import type { Pair } from './pair.js';

/**
 * What the shadow's verdict differences would have done to PnL, where the gates' outcome
 * follow-ups know what the incumbent's decision led to (docs/outcomes.md): each difference is
 * priced from the samples of the incumbent's decision of the same plan, the way `report
 * calibrate` prices another setting (cli/report/calibrate-governor.ts, calibrate-heat.ts), and
 * summed per horizon with the same interval (PnlCollector: a block bootstrap over time, none and
 * "not enough independent data" below its bound). Pure.
 */

/** Verdict differences that change exposure, by what the shadow would have done instead. */
export type PricedKind = 'would_block' | 'would_permit' | 'would_calibrate_otherwise';

export interface PricedDifference {
  readonly gate: string;
  readonly kind: PricedKind;
  /** The verdict differences of this kind (documented and unexplained alike). */
  readonly differences: number;
  /** Their plans, in input order. */
  readonly plans: readonly string[];
  /** Per horizon, shortest first: the PnL of the shadow's verdicts against the incumbent's. */
  readonly pnl: readonly WhatIfPnl[];
}

/** The outcome samples by plan_id and horizon, the first of each (a follow-up writes one per horizon). */
export function samplesByPlan(samples: readonly Outcome[], kinds: ReadonlySet<string>): Map<string, Map<string, Outcome>> {
  const out = new Map<string, Map<string, Outcome>>();
  for (const sample of samples) {
    if (!kinds.has(sample.kind) || sample.plan_id === '') continue;
    const byHorizon = out.get(sample.plan_id) ?? new Map<string, Outcome>();
    if (!byHorizon.has(sample.horizon)) byHorizon.set(sample.horizon, sample);
    out.set(sample.plan_id, byHorizon);
  }
  return out;
}

const permits = (verdict: string) => verdict.startsWith('event=permit');
const calibratedAction = (verdict: string) => /^calibrated_action=(\S+)/.exec(verdict)?.[1];

/** The kind of a verdict difference that changes exposure; undefined for one that does not (a bridge's, a block for another reason). */
export function pricedKind(pair: Pair): PricedKind | undefined {
  if (pair.class === 'same') return undefined;
  if (pair.gate === 'governor') {
    if (permits(pair.incumbent) === permits(pair.shadow)) return undefined;
    return permits(pair.shadow) ? 'would_permit' : 'would_block';
  }
  if (pair.gate === 'heat-gate') {
    const [incumbent, shadow] = [calibratedAction(pair.incumbent), calibratedAction(pair.shadow)];
    return incumbent !== undefined && shadow !== undefined && incumbent !== shadow ? 'would_calibrate_otherwise' : undefined;
  }
  return undefined;
}

/**
 * One governor difference at one horizon. Either way the difference is minus the incumbent's
 * sample: a permit's sample is the open's own PnL, which blocking gives up; a block's is the PnL
 * it kept out (the open's, negated), which permitting takes back. A close is not followed: no sample.
 */
function priceGovernor(collector: PnlCollector, kind: PricedKind, sample: Outcome | undefined): void {
  const followed = kind === 'would_block' ? 'governor_permit' : 'governor_block';
  if (sample === undefined || sample.kind !== followed) return collector.noSample();
  if (sample.pnl_usd === undefined) return collector.missingPrice();
  collector.priced(sample.decided_at, sample.symbol, -sample.pnl_usd, undefined, sample.exposure_usd);
}

/**
 * One heat gate difference at one horizon: the incumbent's downgrade sample scaled by the share
 * the shadow's action keeps open against the incumbent's (the PnL is linear in it, as `report
 * calibrate` prices a threshold). An incumbent that kept the proposal was not followed: no sample.
 */
function priceHeat(collector: PnlCollector, pair: Pair, sample: Outcome | undefined): void {
  if (sample === undefined) return collector.noSample();
  const proposed = sample.proposed_action;
  const incumbentKept = keptShare(proposed, calibratedAction(pair.incumbent)!);
  const shadowKept = keptShare(proposed, calibratedAction(pair.shadow)!);
  if (incumbentKept === 0) return collector.noSample();
  if (sample.pnl_usd === undefined) return collector.missingPrice();
  const scale = (shadowKept - incumbentKept) / incumbentKept;
  collector.priced(
    sample.decided_at,
    sample.symbol,
    sample.pnl_usd * scale,
    sample.worst_pnl_usd === undefined ? undefined : sample.worst_pnl_usd * scale,
    sample.exposure_usd * scale,
  );
}

const GOVERNOR_KINDS: ReadonlySet<string> = new Set(['governor_permit', 'governor_block']);
const HEAT_KINDS: ReadonlySet<string> = new Set(['heat_downgrade']);

/** Every verdict difference that changes exposure, priced per gate and kind at each horizon. */
export function priceDifferences(pairs: readonly Pair[], samples: readonly Outcome[], horizons: readonly string[]): PricedDifference[] {
  const bySample = { governor: samplesByPlan(samples, GOVERNOR_KINDS), heat: samplesByPlan(samples, HEAT_KINDS) };
  const groups = new Map<string, { gate: string; kind: PricedKind; plans: string[]; collectors: PnlCollector[] }>();
  for (const pair of pairs) {
    const kind = pricedKind(pair);
    if (kind === undefined) continue;
    const name = `${pair.gate} ${kind}`;
    const group = groups.get(name) ?? { gate: pair.gate, kind, plans: [], collectors: horizons.map((h) => new PnlCollector(h)) };
    groups.set(name, group);
    const plan = pair.planId ?? pair.label;
    group.plans.push(plan);
    const own = (pair.gate === 'governor' ? bySample.governor : bySample.heat).get(plan);
    horizons.forEach((horizon, i) => {
      const collector = group.collectors[i]!;
      const sample = own?.get(horizon);
      if (pair.gate === 'governor') priceGovernor(collector, kind, sample);
      else priceHeat(collector, pair, sample);
    });
  }
  return [...groups.values()].map((g) => ({
    gate: g.gate,
    kind: g.kind,
    differences: g.plans.length,
    plans: g.plans,
    pnl: g.collectors.map((c) => c.result()),
  }));
}
