/**
 * The traffic the pipeline suite replays (and `test/pipeline/replay.ts` against a running
 * `npm start`): what upstream's producers of one era write in a few minutes of a small book.
 * Every write goes through a producer fixture (test/pipeline/producers/), which cites the
 * upstream code it copies.
 */
import type { Redis } from 'ioredis';
import { keys } from '../../schemas/keys.js';
import { publishApplyLayerPlan } from './producers/apply-layer.js';
import { publishBalanceTrackerPositions } from './producers/balance-tracker.js';
import {
  publishHarvestProposal,
  touchHarvestProposal,
  type HarvestAction,
  type KernelProposal,
} from './producers/harvest-proposal-publisher.js';
import { writeReroutedHeatGateDecision } from './producers/heat-gate-rerouted.js';
import { publishIntentBridgePlan, type Intent } from './producers/intent-bridge.js';
import { writeMarketState } from './producers/market-state-publisher.js';
import { writePortfolioState } from './producers/portfolio-state-publisher.js';
import { writeP33Pass, type ExchangePosition } from './producers/position-state-brain.js';
import { publishMarkPrice } from './producers/price-feed.js';
import type { Era } from './producers/upstream.js';

export const EQUITY_USD = 10_000;

/** P3.3's allowlist: four open positions ($1,660 in all, under the $2,000 total cap) and two flat symbols. */
export const exchange: readonly ExchangePosition[] = [
  { symbol: 'BTCUSDT', positionAmt: 0.006, entryPrice: 94_000, markPrice: 95_000, unRealizedProfit: 6, leverage: 10 },
  { symbol: 'ETHUSDT', positionAmt: -0.2, entryPrice: 3_250, markPrice: 3_200, unRealizedProfit: 10, leverage: 10 },
  { symbol: 'SOLUSDT', positionAmt: 2, entryPrice: 140, markPrice: 150, unRealizedProfit: 20, leverage: 5 },
  { symbol: 'DOGEUSDT', positionAmt: 1_000, entryPrice: 0.14, markPrice: 0.15, unRealizedProfit: 10, leverage: 5 },
  { symbol: 'BNBUSDT', positionAmt: 0, entryPrice: 0, markPrice: 627.5, unRealizedProfit: 0, leverage: 10 },
  { symbol: 'XRPUSDT', positionAmt: 0, entryPrice: 0, markPrice: 2.1, unRealizedProfit: 0, leverage: 10 },
];
export const open = exchange.filter((p) => p.positionAmt !== 0);
export const sigma: Record<string, number> = { BTCUSDT: 0.02, ETHUSDT: 0.03, SOLUSDT: 0.05, DOGEUSDT: 0.04, BNBUSDT: 0.03, XRPUSDT: 0.06 };
/** Σ |qty × mark| × sigma / equity over the open positions: the heat every decision should see. */
export const expectedHeat = open.reduce((sum, p) => sum + Math.abs(p.positionAmt * p.markPrice) * sigma[p.symbol]!, 0) / EQUITY_USD;

/** The kernel's proposals in the order it publishes them; ETHUSDT twice, so the newest must win. */
export const kernelTraffic: readonly { symbol: string; action: HarvestAction; killScore: number }[] = [
  { symbol: 'BTCUSDT', action: 'FULL_CLOSE_PROPOSED', killScore: 0.71 },
  { symbol: 'ETHUSDT', action: 'FULL_CLOSE_PROPOSED', killScore: 0.65 },
  { symbol: 'SOLUSDT', action: 'PARTIAL_75', killScore: 0.2 },
  { symbol: 'DOGEUSDT', action: 'NONE', killScore: 0.05 },
  { symbol: 'ETHUSDT', action: 'PARTIAL_50', killScore: 0.3 },
];
/** The newest proposal per symbol. */
export const newestKernel = new Map(kernelTraffic.map((k) => [k.symbol, k.action]));
/** The symbols whose newest proposal is a close (DOGEUSDT's NONE is none). */
export const closeSymbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

export function kernelProposal(symbol: string, action: HarvestAction, killScore: number): KernelProposal {
  const p = exchange.find((e) => e.symbol === symbol)!;
  return {
    harvestAction: action,
    killScore,
    rNet: 2.5,
    reasonCodes: action === 'FULL_CLOSE_PROPOSED' ? ['kill_score_triggered', 'regime_flip'] : [`harvest_${action.toLowerCase()}`],
    k: { regimeFlip: 1, sigmaSpike: 0.2, tsDrop: 0.1, agePenalty: 0.05 },
    sigma: sigma[symbol]!,
    positionSide: p.positionAmt > 0 ? 'LONG' : 'SHORT',
    entryPrice: p.entryPrice,
    currentPrice: p.markPrice,
  };
}

/** The opens of the intent bridge: $138 on flat BNBUSDT (under the $200 cap), $577.50 on flat XRPUSDT (over it). */
export const opens: readonly (Intent & { expect: [string, string] })[] = [
  { symbol: 'BNBUSDT', side: 'BUY', qty: 0.22, leverage: 10, entryPrice: 627.5, expect: ['permit', 'all_gates_passed'] },
  { symbol: 'XRPUSDT', side: 'BUY', qty: 275, leverage: 10, entryPrice: 2.1, expect: ['block', 'notional_per_trade_exceeded'] },
];
/** Newest era: an open priced only by the price feed's ticker ($130). */
export const tickerOnlyOpen: Intent & { expect: [string, string] } = {
  symbol: 'ADAUSDT',
  side: 'BUY',
  qty: 200,
  leverage: 10,
  entryPrice: 0.65,
  expect: ['permit', 'all_gates_passed'],
};

export type ExpectedOpen = Intent & { readonly expect: readonly [string, string] };

/** One pass of the periodic producers: P3.3, the portfolio state, and at the newest the price feed and balance tracker. */
export async function producersPass(r: Redis, era: Era, now: number): Promise<void> {
  await writeP33Pass(r, era, exchange, now);
  await writePortfolioState(
    r,
    {
      equityUsd: EQUITY_USD,
      positionsNotionalUsd: open.reduce((s, p) => s + Math.abs(p.positionAmt * p.markPrice), 0),
      positionsCount: open.length,
      unrealizedPnlUsd: open.reduce((s, p) => s + p.unRealizedProfit, 0),
    },
    now,
  );
  if (era === 'newest') {
    for (const p of exchange) await publishMarkPrice(r, p.symbol, p.markPrice, now);
    await publishMarkPrice(r, tickerOnlyOpen.symbol, tickerOnlyOpen.entryPrice!, now);
    await publishAccountRows(r, open, now);
  }
}

/** The balance tracker's round over the account's rows (Binance's account endpoint: one row a leg, cross margin). */
export function publishAccountRows(r: Redis, rows: readonly ExchangePosition[], now: number): Promise<string[]> {
  return publishBalanceTrackerPositions(
    r,
    rows.map((p) => ({
      symbol: p.symbol,
      positionAmt: p.positionAmt,
      entryPrice: p.entryPrice,
      unrealizedProfit: p.unRealizedProfit,
      leverage: String(p.leverage),
      isolated: false,
    })),
    now,
  );
}

/** What is in Redis before the gates start: a producers' pass and the market state publisher's sigma. */
export async function writeProducerState(r: Redis, era: Era, now: number): Promise<void> {
  await producersPass(r, era, now);
  for (const [symbol, s] of Object.entries(sigma)) await writeMarketState(r, symbol, { sigma: s }, now);
}

/**
 * The kernel publishes. At the newest era the rerouted quantum-heat-gate answers each proposal in
 * the same stream (failing closed on the first, passing the others' UNKNOWN through), and reads its
 * own first answer back once. At the seed commits it was not rerouted (that came on 2026-01-31,
 * OPS-2026-01-31-heat-gate-stream-fix.yaml) and wrote only quantum:stream:harvest.heat.decision,
 * with no `action` field; cut-over stops it (docs/migration.md), so the seed replay leaves it out.
 */
export async function replayKernel(r: Redis, era: Era): Promise<void> {
  let echo: Record<string, string> | undefined;
  for (const [i, k] of kernelTraffic.entries()) {
    const published = await publishHarvestProposal(r, k.symbol, kernelProposal(k.symbol, k.action, k.killScore), Date.now() + i);
    if (era === 'seed') continue;
    const answer = await writeReroutedHeatGateDecision(
      r,
      published.fields,
      i === 0 ? { kind: 'fail_closed', reason: 'missing_inputs' } : { kind: 'ok', heatScore: 0.12, heatLevel: 'cold', ageSec: 2 },
      Date.now(),
    );
    echo ??= answer.fields;
  }
  if (echo) await writeReroutedHeatGateDecision(r, echo, { kind: 'fail_closed', reason: 'missing_inputs' }, Date.now());
  // The next cycle finds nothing new to publish: the hashes' last_update_epoch only.
  for (const symbol of newestKernel.keys()) await touchHarvestProposal(r, symbol, Date.now() + 10_000);
}

/**
 * The heat gate's modes in each era. Shadow writes the decision streams only. Enforce also writes
 * the kernel's hash, in the field the era's Apply Layer reads (P26_APPLY_LAYER_ERA): at the seed
 * commits `harvest_action` only (5da186c11 lines 494-513), at the newest `action` when
 * calibrated == "1" (since 2907945a7; 73fab1f55 lines 1098-1105).
 */
export interface Scenario {
  readonly era: Era;
  readonly mode: 'shadow' | 'enforce';
}
export const scenarios: readonly Scenario[] = [
  { era: 'seed', mode: 'shadow' },
  { era: 'seed', mode: 'enforce' },
  { era: 'newest', mode: 'shadow' },
  { era: 'newest', mode: 'enforce' },
];

/** The heat gate's settings for a scenario: its mode, and which Apply Layer reads the hash. */
export const heatGateEnv = (s: Scenario): Record<string, string> => ({ P26_MODE: s.mode, P26_APPLY_LAYER_ERA: s.era });

/** quantum-heat-gate's entries in the proposal stream at the newest era: an answer per kernel proposal and one echo. */
export const foreignHeatDecisions = (era: Era): number => (era === 'newest' ? kernelTraffic.length + 1 : 0);

/**
 * A producers' pass, then the Apply Layer turns each symbol's proposal hash into a plan (the
 * closes it executes: symbol → plan_id) and the intent bridge opens (plan_id → the open and the
 * governor's expected answer).
 */
export async function replayPlans(r: Redis, era: Era): Promise<{ closePlans: Map<string, string>; openPlans: Map<string, ExpectedOpen> }> {
  const now = Date.now();
  await producersPass(r, era, now);
  const closePlans = new Map<string, string>();
  for (const symbol of newestKernel.keys()) {
    const plan = await publishApplyLayerPlan(r, era, symbol, await r.hgetall(keys.harvestProposal(symbol)), now);
    if (plan.fields.decision === 'EXECUTE') closePlans.set(symbol, plan.planId);
  }
  const openPlans = new Map<string, ExpectedOpen>();
  const intents = era === 'newest' ? [...opens, tickerOnlyOpen] : opens;
  for (const [i, intent] of intents.entries()) {
    const plan = await publishIntentBridgePlan(r, era, `${now}-${i}`, intent, now);
    openPlans.set(plan.planId, intent);
  }
  return { closePlans, openPlans };
}
