import { parseNumber } from '../../schemas/fields.js';
import { parseHorizons } from '../../handlers/outcomes/horizons.js';
import { drawdownAndRunUp } from './outcomes.js';
import { blockInterval } from '../../domain/time-blocks.js';

/**
 * What both halves of `report calibrate` share: a decision's own time, the counterfactual PnL of
 * the decisions an alternative changes (with what it could not price), and the reproduction
 * check's result. Pure.
 */

/** A decision's own time in epoch seconds (the deciding gate's clock), else its entry id's time. */
export function decisionTime(epochSeconds: string | undefined, id: string): number {
  const sec = parseNumber(epochSeconds);
  return sec !== undefined && sec > 0 ? Math.round(sec * 1000) : Number.parseInt(id, 10);
}

/** The counterfactual PnL of a set of decisions at one horizon, with what it could not price. */
export interface WhatIfPnl {
  readonly horizon: string;
  /** Decisions with a difference whose PnL is known (a priced sample, or nothing kept: exactly 0). */
  readonly priced: number;
  /** Their sample had no price (recorded as missing): left out of every figure. */
  readonly missingPrice: number;
  /**
   * No sample to price them from: the recorded decision was not followed (it kept the proposal,
   * so no follow-up was recorded, or the follow-up was skipped), or its horizon has not come yet.
   */
  readonly noSample: number;
  /** null when nothing was priced: an unknown is never a PnL of 0. */
  readonly totalPnlUsd: number | null;
  /** The worst of the decisions' worst sampled excursions (worst_pnl_usd, scaled). */
  readonly worstExcursionUsd: number | null;
  readonly maxDrawdownUsd: number | null;
  /** 90 % interval of the total from a bootstrap over blocks of time (time-blocks.ts); null without enough independent data. */
  readonly interval90: [number, number] | null;
  /** Independent blocks of time the interval rests on. */
  readonly blocks: number;
  /** The interval's warnings in words: no interval, few blocks, one symbol, symbols that move together. */
  readonly warnings: readonly string[];
  /** Total PnL over the sum of |exposure| the alternative changes, in basis points; null when none. */
  readonly pnlBps: number | null;
  /** Share of the priced decisions whose difference made money (PnL > 0); null when none priced. */
  readonly hitRate: number | null;
  /** Each priced decision in decision order: [time (ms), PnL]; what the HTML report's charts draw. */
  readonly points: readonly (readonly [number, number])[];
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Collects one decision's counterfactual PnL at one horizon into running figures. */
export class PnlCollector {
  private readonly values: { at: number; symbol: string; pnl: number }[] = [];
  private exposure = 0;
  private worst: number | null = null;
  private missing = 0;
  private unsampled = 0;

  private readonly horizonMs: number;

  constructor(private readonly horizon: string) {
    // A label OUTCOME_HORIZONS accepts; another one (a foreign producer's) blocks by spacing alone.
    this.horizonMs = /^\d+[smhd]$/.test(horizon) ? parseHorizons(horizon)[0]!.ms : 0;
  }

  /** `exposureUsd`: the exposure the alternative changes on this decision (its sign does not matter). */
  priced(at: number, symbol: string, pnl: number, worst: number | undefined, exposureUsd: number): void {
    this.values.push({ at, symbol, pnl });
    this.exposure += Math.abs(exposureUsd);
    const w = worst ?? pnl;
    this.worst = this.worst === null ? w : Math.min(this.worst, w);
  }

  missingPrice(): void {
    this.missing += 1;
  }

  noSample(): void {
    this.unsampled += 1;
  }

  result(): WhatIfPnl {
    const sorted = [...this.values].sort((a, b) => a.at - b.at);
    const ordered = sorted.map((v) => v.pnl);
    const block = blockInterval(sorted.map((v) => ({ at: v.at, horizonMs: this.horizonMs, symbol: v.symbol, pnlUsd: v.pnl })));
    return {
      horizon: this.horizon,
      priced: ordered.length,
      missingPrice: this.missing,
      noSample: this.unsampled,
      totalPnlUsd: ordered.length === 0 ? null : round2(ordered.reduce((a, b) => a + b, 0)),
      worstExcursionUsd: this.worst === null ? null : round2(this.worst),
      maxDrawdownUsd: ordered.length === 0 ? null : drawdownAndRunUp(ordered).drawdown,
      interval90: block.interval90,
      blocks: block.blocks,
      warnings: block.warnings,
      pnlBps: this.exposure > 0 ? Math.round((ordered.reduce((a, b) => a + b, 0) / this.exposure) * 100_000) / 10 : null,
      hitRate: ordered.length === 0 ? null : ordered.filter((v) => v > 0).length / ordered.length,
      points: sorted.map((v) => [v.at, round2(v.pnl)] as const),
    };
  }
}

/** A decision the rule, with the configured settings, does not decide as recorded. */
export interface Mismatch {
  readonly id: string;
  readonly recorded: string;
  readonly recomputed: string;
}

export interface Reproduction {
  readonly checked: number;
  readonly reproduced: number;
  /** The first 20 that were not. */
  readonly mismatches: readonly Mismatch[];
}
