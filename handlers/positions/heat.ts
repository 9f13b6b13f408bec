import { bucketOf, portfolioHeat, type HeatContribution, type PortfolioHeat, type PositionExposure } from '../../domain/heat.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import {
  loadPositionBook,
  STAMPED_AHEAD,
  type PositionBook,
  type PositionBookConfig,
  type RefusedFigure,
  type UnreadableListing,
  type UntrustedFigure,
} from './book.js';
import { parseNumber } from '../../schemas/fields.js';
import { epochMs } from '../../domain/epoch.js';
import { DEFAULT_PRICE_MAX_SKEW_SEC } from './bounds.js';
import { keys } from '../../schemas/keys.js';
import type { FailClosedCause } from '../../schemas/heat-gate.js';

export type { HeatBucket } from '../../schemas/heat-gate.js';

/**
 * Portfolio heat over the position book, shared by the heat gate (which fails closed on what it
 * cannot trust) and the budget engine (which reports heat as advisory). The formula itself is
 * domain/heat.ts; this module adds reading its inputs and judging whether they can be trusted.
 */
export type { PositionExposure } from '../../domain/heat.js';
export { HEAT_CAP, bucketOf } from '../../domain/heat.js';

export interface HeatInputs {
  /** undefined when the portfolio state or its equity_usd field is missing. */
  readonly equityUsd: number | undefined;
  readonly equityRaw: string | undefined;
  /** False when quantum:state:portfolio does not exist at all; absent in hand-built inputs (then equityRaw decides). */
  readonly portfolioStatePresent?: boolean;
  readonly positions: readonly PositionExposure[];
  /** Position figures present but no plain finite number (see PositionBook.untrusted). */
  readonly untrusted?: readonly UntrustedFigure[];
  /** The producers' figures the book refused (PositionBook.refused), the portfolio state's stamp included, for the decision to count. */
  readonly refused?: readonly RefusedFigure[];
  /** The portfolio state is stamped further ahead than PRICE_MAX_SKEW_SEC: no figure, as a missing one. */
  readonly portfolioStampedAhead?: boolean;
  /** The book's listing reads Redis refused (PositionBook.unreadableListings): the book is incomplete. */
  readonly unreadableListings?: readonly UnreadableListing[];
  /** How the snapshots not yet in our view were found (see PositionBook); absent in hand-built inputs. */
  readonly streamRead?: PositionBook['streamRead'];
  readonly truncated?: boolean;
  /** The symbols of `positions`, for a quick "is the proposal's symbol in the book?". */
  readonly symbols?: ReadonlySet<string>;
  /** Each position's own mark and its time, a price quote among the others (handlers/positions/prices.ts). */
  readonly positionMarks?: ReadonlyMap<string, { readonly markPrice: number | undefined; readonly asOfMs: number }>;
  /** Per symbol of the book, its price quotes' replies (PositionBook.quotes), when loadHeatInputs was asked for them. */
  readonly quotes?: PositionBook['quotes'];
}

/** The heat of the portfolio, or why it cannot be trusted (then the decision fails closed: COLD). */
export type HeatAssessment =
  | {
      readonly trusted: true;
      readonly heat: number;
      /** True when the heat was not finite or above HEAT_CAP, and HEAT_CAP is given instead. */
      readonly capped: boolean;
      readonly positionsCounted: number;
      /** Open positions without a positive sigma: they add nothing to heat, and are named. */
      readonly withoutSigma: readonly PositionExposure[];
      /** Each counted position's share of the heat (domain/heat.ts). */
      readonly contributions: readonly HeatContribution[];
      /**
       * Present when `heat` is only a lower bound (the heat of the figures trusted, some refused),
       * taken because it already proves the bucket the gate decides (heatGate: HOT): why the rest
       * is unknown, and what.
       */
      readonly lowerBound?: { readonly cause: FailClosedCause; readonly untrusted: readonly UntrustedFigure[] };
    }
  | {
      readonly trusted: false;
      readonly cause: FailClosedCause;
      readonly untrusted: readonly UntrustedFigure[];
      /**
       * Where only position figures are refused (equity and the book's listings read): the heat of
       * the figures trusted. Heat only grows with exposure and sigma, and each refused figure can
       * only add to what its symbol's others say (the largest counts), so this is a lower bound of
       * the true heat: a gate may decide a bucket it already proves (HOT).
       */
      readonly atLeast?: PortfolioHeat;
    };

/**
 * heat = Σ(|notional_i| × sigma_i) / max(equity_usd, 1) over positions with sigma > 0
 * (`_get_portfolio_heat`: `total_risk / max(equity_usd, 1.0)`). Stricter than the original on
 * purpose: an equity or position figure that is no plain finite number fails closed.
 */
export function assessHeat(inputs: HeatInputs): HeatAssessment {
  const untrusted = inputs.untrusted ?? [];
  // Checked first: a refused portfolio state is no missing one, and a book read in part has no heat.
  const unreadable = inputs.unreadableListings ?? [];
  if (unreadable.length > 0)
    return {
      trusted: false,
      cause: 'book_unreadable',
      untrusted: [...unreadable.map((u) => ({ symbol: u.key, field: 'unreadable', value: u.error.slice(0, 40) })), ...untrusted],
    };
  // A state stamped ahead names no moment it was true: no state.
  if (inputs.portfolioStampedAhead === true)
    return {
      trusted: false,
      cause: 'portfolio_state_missing',
      untrusted: [{ symbol: keys.portfolioState, field: STAMPED_AHEAD, value: '' }, ...untrusted],
    };
  if (inputs.equityRaw === undefined && inputs.portfolioStatePresent !== true)
    return { trusted: false, cause: 'portfolio_state_missing', untrusted };
  // The original read a missing or empty equity_usd as 0 (`... or 0`): invalid equity.
  if (inputs.equityRaw === undefined || inputs.equityRaw === '') return { trusted: false, cause: 'equity_missing', untrusted };
  const equity = inputs.equityUsd;
  if (equity === undefined || !Number.isFinite(equity)) return { trusted: false, cause: 'equity_not_a_number', untrusted };
  if (equity <= 0) return { trusted: false, cause: 'equity_not_positive', untrusted };
  // A figure stamped ahead names no moment it was true: no figure, so the heat is not known.
  if (untrusted.length > 0) {
    const cause = untrusted.some((u) => u.field === STAMPED_AHEAD) ? 'position_stamped_ahead' : 'position_not_a_number';
    return { trusted: false, cause, untrusted, atLeast: portfolioHeat(inputs.positions, equity) };
  }
  return { trusted: true, ...portfolioHeat(inputs.positions, equity) };
}

/**
 * The assessment a gate decides a bucket on: as assessed, or, where it is untrusted but the figures
 * it trusts already prove HOT (their heat, a lower bound, at or above heatMax), that heat, marked as
 * a lower bound. Nothing unknown can take a heat proven HOT out of HOT, so the decision is the one
 * the true world gets; anything short of that stays untrusted (fail-closed, by its cause).
 */
export function provenHeat(assessment: HeatAssessment, heatMin: number, heatMax: number): HeatAssessment {
  if (assessment.trusted || assessment.atLeast === undefined) return assessment;
  if (bucketOf(assessment.atLeast.heat, heatMin, heatMax) !== 'HOT') return assessment;
  return { trusted: true, ...assessment.atLeast, lowerBound: { cause: assessment.cause, untrusted: assessment.untrusted } };
}

/** Why heat could not be computed, for callers that only need a word (the budget engine). */
export type HeatProblem = 'missing_portfolio_state' | 'invalid_equity' | 'untrusted_position';

export type HeatResult = { readonly heat: number; readonly problem?: undefined } | { readonly heat: 0; readonly problem: HeatProblem };

/**
 * assessHeat reduced to a number or a problem, for the budget engine: it skips untrusted position
 * figures as it always did (its heat is advisory; the heat gate is the one that fails closed).
 */
export function computeHeat(inputs: HeatInputs): HeatResult {
  // Unreadable listings as untrusted figures: skipped (what was read is counted), the heat being advisory.
  const assessment = assessHeat({ ...inputs, untrusted: [], unreadableListings: [] });
  if (assessment.trusted) return { heat: assessment.heat };
  const problem: HeatProblem =
    assessment.cause === 'portfolio_state_missing'
      ? 'missing_portfolio_state'
      : assessment.cause === 'position_not_a_number' || assessment.cause === 'position_stamped_ahead'
        ? 'untrusted_position'
        : 'invalid_equity';
  return { heat: 0, problem };
}

/**
 * Equity and the position book (our view, the snapshots it has not applied yet, P3.3's hashes) in
 * one read of the book (loadPositionBook): the decision never lags the snapshot stream.
 */
export async function loadHeatInputs(redis: RedisReader, config: PositionBookConfig, now: number, withQuotes = false): Promise<HeatInputs> {
  // Every quote a direct read would find; they come with the book's unpriced positions, which the heat leaves out.
  const { book, equityRaw, portfolioStampRaw } = await loadPositionBook(redis, config, {
    withEquity: true,
    now,
    withUnpriced: withQuotes,
    allP33Quotes: withQuotes,
  });
  // Without equity_usd, whether the state exists at all tells the original's two failures apart
  // (a state Redis refused to read exists: assessHeat names it unreadable).
  const equityRefused = book.unreadableListings.some((u) => u.listing === 'equity');
  const portfolioStatePresent = equityRaw !== undefined || equityRefused || (await redis.exists(keys.portfolioState)) > 0;
  const positions = book.positions.map(({ symbol, notionalUsd, sigma }) => ({ symbol, notionalUsd, sigma }));
  const stampMs = epochMs(parseNumber(portfolioStampRaw) ?? Number.NaN);
  const aheadMs = stampMs === undefined ? 0 : stampMs - now;
  const portfolioStampedAhead = aheadMs > (config.PRICE_MAX_SKEW_SEC ?? DEFAULT_PRICE_MAX_SKEW_SEC) * 1000;
  const refused: readonly RefusedFigure[] = portfolioStampedAhead
    ? [...book.refused, { symbol: '', source: 'portfolio', reason: 'future', key: keys.portfolioState, aheadMs }]
    : book.refused;
  return {
    ...(portfolioStampedAhead ? { portfolioStampedAhead } : {}),
    equityRaw,
    equityUsd: parseNumber(equityRaw),
    portfolioStatePresent,
    positions,
    untrusted: book.untrusted,
    refused,
    unreadableListings: book.unreadableListings,
    streamRead: book.streamRead,
    truncated: book.truncated,
    symbols: new Set(positions.map((p) => p.symbol)),
    positionMarks: new Map(book.positions.map((p) => [p.symbol, { markPrice: p.markPrice, asOfMs: p.asOfMs }])),
    ...(withQuotes ? { quotes: book.quotes } : {}),
  };
}
