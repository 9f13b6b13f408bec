import { followUpId } from '../../handlers/outcomes/follow-up.js';
import type { Outcome } from '../../schemas/outcome.js';
import { PnlCollector, type WhatIfPnl } from '../report/calibrate-common.js';
import { keptShare } from '../report/calibrate-heat.js';
import type { Pair } from './pair.js';

/**
 * What the shadow's verdict differences would have done to PnL, where the gates' outcome
 * follow-ups know what a decision led to (docs/outcomes.md): each difference is priced from the
 * sample of the shadow's own decision of the plan (the follow-ups the shadow runs of its decisions,
 * app/shadow/outcomes.ts), else from the incumbent's decision's, the way `report calibrate` prices
 * another setting (cli/report/calibrate-governor.ts, calibrate-heat.ts), and summed per horizon
 * with the same interval (PnlCollector: a block bootstrap over time, none and "not enough
 * independent data" below its bound). Pure.
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

/**
 * The outcome samples by plan_id (or another key of theirs) and horizon, the first of each (a
 * follow-up writes one per horizon).
 */
export function samplesByPlan(
  samples: readonly Outcome[],
  kinds: ReadonlySet<string>,
  keyOf: (sample: Outcome) => string = (sample) => sample.plan_id,
): Map<string, Map<string, Outcome>> {
  const out = new Map<string, Map<string, Outcome>>();
  for (const sample of samples) {
    const key = keyOf(sample);
    if (!kinds.has(sample.kind) || key === '') continue;
    const byHorizon = out.get(key) ?? new Map<string, Outcome>();
    if (!byHorizon.has(sample.horizon)) byHorizon.set(sample.horizon, sample);
    out.set(key, byHorizon);
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

/** The samples of one decision per horizon: the shadow's own and the incumbent's, either possibly unknown. */
interface Sampled {
  readonly own: Outcome | undefined;
  readonly incumbent: Outcome | undefined;
}

/**
 * One governor difference at one horizon. From the shadow's own decision: its sample is the
 * difference itself (a block's is minus what the open made, which blocking gives up; a permit's,
 * what the open made, which permitting takes back). From the incumbent's: minus its sample (a
 * permit's is the open's own PnL; a block's, the PnL it kept out). A close is not followed: no sample.
 */
function priceGovernor(collector: PnlCollector, kind: PricedKind, { own, incumbent }: Sampled): void {
  const shadowKind = kind === 'would_block' ? 'governor_block' : 'governor_permit';
  if (own !== undefined && own.kind === shadowKind) {
    if (own.pnl_usd === undefined) return collector.missingPrice();
    return collector.priced(own.decided_at, own.symbol, own.pnl_usd, own.worst_pnl_usd, own.exposure_usd);
  }
  const sample = incumbent;
  const followed = kind === 'would_block' ? 'governor_permit' : 'governor_block';
  if (sample === undefined || sample.kind !== followed) return collector.noSample();
  if (sample.pnl_usd === undefined) return collector.missingPrice();
  collector.priced(sample.decided_at, sample.symbol, -sample.pnl_usd, undefined, sample.exposure_usd);
}

/**
 * One heat gate difference at one horizon: a downgrade sample scaled by the share the shadow's
 * action keeps open against the incumbent's (the PnL is linear in it, as `report calibrate` prices
 * a threshold), over the share the sampled decision kept: the shadow's own downgrade where it made
 * one, else the incumbent's. A decision that kept the proposal was not followed: no sample.
 */
function priceHeat(collector: PnlCollector, pair: Pair, { own, incumbent }: Sampled): void {
  const sample = own ?? incumbent;
  if (sample === undefined) return collector.noSample();
  const proposed = sample.proposed_action;
  const incumbentKept = keptShare(proposed, calibratedAction(pair.incumbent)!);
  const shadowKept = keptShare(proposed, calibratedAction(pair.shadow)!);
  const sampledKept = sample === own ? shadowKept : incumbentKept;
  if (sampledKept === 0) return collector.noSample();
  if (sample.pnl_usd === undefined) return collector.missingPrice();
  const scale = (shadowKept - incumbentKept) / sampledKept;
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

/**
 * Every verdict difference that changes exposure, priced per gate and kind at each horizon:
 * `samples` are the incumbent's decisions' (OUTCOME_STREAM), `own` the shadow's (SHADOW_OUTCOMES),
 * which price a difference first.
 */
export function priceDifferences(
  pairs: readonly Pair[],
  samples: readonly Outcome[],
  horizons: readonly string[],
  own: readonly Outcome[] = [],
): PricedDifference[] {
  const bySample = { governor: samplesByPlan(samples, GOVERNOR_KINDS), heat: samplesByPlan(samples, HEAT_KINDS) };
  // The shadow's own are its decision's of this very input: the follow-up is named by the input's id (app/shadow/outcomes.ts).
  const byDecision = (sample: Outcome) => sample.decision_id;
  const byOwn = { governor: samplesByPlan(own, GOVERNOR_KINDS, byDecision), heat: samplesByPlan(own, HEAT_KINDS, byDecision) };
  const groups = new Map<string, { gate: string; kind: PricedKind; plans: string[]; collectors: PnlCollector[] }>();
  for (const pair of pairs) {
    const kind = pricedKind(pair);
    if (kind === undefined) continue;
    const name = `${pair.gate} ${kind}`;
    const group = groups.get(name) ?? { gate: pair.gate, kind, plans: [], collectors: horizons.map((h) => new PnlCollector(h)) };
    groups.set(name, group);
    const plan = pair.planId ?? pair.label;
    group.plans.push(plan);
    const gate = pair.gate === 'governor' ? 'governor' : 'heat';
    const ownId = followUpId(gate === 'governor' ? 'governor_block' : 'heat_downgrade', pair.id);
    const [incumbentOf, ownOf] = [bySample[gate].get(plan), byOwn[gate].get(ownId)];
    horizons.forEach((horizon, i) => {
      const collector = group.collectors[i]!;
      const sampled = { own: ownOf?.get(horizon), incumbent: incumbentOf?.get(horizon) };
      if (pair.gate === 'governor') priceGovernor(collector, kind, sampled);
      else priceHeat(collector, pair, sampled);
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
