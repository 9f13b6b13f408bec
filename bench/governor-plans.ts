import type { Redis } from 'ioredis';
import { keys, streams } from '../schemas/keys.js';

/** The notional of the bench's position number `i` (seedPortfolio). */
const notionalOf = (i: number) => 1000 + i * 10;

/** The notional of seedPortfolio's `symbols` positions, as each figure states it. */
export function bookNotional(symbols: number): number {
  let notional = 0;
  for (let i = 0; i < symbols; i++) notional += notionalOf(i);
  return notional;
}

/**
 * Equity for `symbols` held positions: $100,000 at the bench's 20, and in proportion to the book's
 * notional beyond, so the portfolio's heat (notional × sigma / equity, 0.044) and so the heat
 * gate's decisions stay those of the 20-position book whatever the number of positions.
 */
export function equityFor(symbols: number): number {
  return Math.max(100_000, Math.ceil((bookNotional(symbols) * 100_000) / bookNotional(20)));
}

/**
 * The book and the plans the governor's benchmarks decide on (bench/run.ts): equity and `symbols` positions written as the pipeline writes
 * them, and a plan mix that is mostly closes (always allowed) and opens across many symbols.
 */
export async function seedPortfolio(redis: Redis, symbols: number): Promise<void> {
  const pipeline = redis.pipeline();
  pipeline.hset(keys.portfolioState, 'equity_usd', String(equityFor(symbols)), 'timestamp', String(Math.floor(Date.now() / 1000)));
  for (let i = 0; i < symbols; i++) {
    const symbol = `SYM${i}USDT`;
    // As the pipeline writes positions: snapshot stream entries (the runtime's position-snapshot
    // materialises them; the yardstick reads the stream as the original did).
    pipeline.xadd(
      streams.positionSnapshot,
      '*',
      'symbol',
      symbol,
      'position_notional_usd',
      String(notionalOf(i)),
      'sigma',
      '0.2',
      'mark_price',
      '10',
      'qty',
      '100',
    );
  }
  await pipeline.exec();
}

/** The fields of the bench's plan number `n`: every other one a close (always allowed), the rest opens across `symbols` symbols (mostly capped). */
export function planFields(n: number, symbols = 200): string[] {
  return planOf(`gov-${n}`, `SYM${n % symbols}USDT`, n % 2 === 0);
}

/** An apply plan as the Apply Layer writes it: a close (PARTIAL_75, reduceOnly) or an open, qty 1 at 10. */
export function planOf(planId: string, symbol: string, close: boolean): string[] {
  return [
    'plan_id',
    planId,
    'symbol',
    symbol,
    'action',
    close ? 'PARTIAL_75' : 'OPEN_LONG',
    'decision',
    'EXECUTE',
    'side',
    'BUY',
    'qty',
    '1',
    'price',
    '10',
    'kill_score',
    '0.1',
    'reduceOnly',
    close ? 'true' : 'false',
  ];
}

/** `plans` apply plans (planFields), written 2,000 at a time. */
export async function writeGovernorPlans(redis: Redis, plans: number): Promise<void> {
  for (let i = 0; i < plans; i += 2000) {
    const pipeline = redis.pipeline();
    for (let n = i; n < Math.min(plans, i + 2000); n++) pipeline.xadd(streams.applyPlan, '*', ...planFields(n));
    await pipeline.exec();
  }
}
