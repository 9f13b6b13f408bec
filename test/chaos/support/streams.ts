import type { Redis } from 'ioredis';
import { keys } from '../../../schemas/keys.js';
import { waitFor as sharedWaitFor } from '../../support/runtime.js';

export { pendingCount, produce } from '../../support/runtime.js';

/** The shared waitFor, with the patience real processes under load need. */
export function waitFor<T>(
  probe: () => Promise<T> | T,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  return sharedWaitFor(probe, { timeoutMs: 60_000, intervalMs: 50, ...options });
}

/** A portfolio the heat gate can read: equity and two positions with sigma (WARM). */
export async function seedPortfolio(redis: Redis): Promise<void> {
  await redis.hset(keys.portfolioState, 'equity_usd', '10000');
  for (const [symbol, notional, sigma] of [
    ['BTCUSDT', '9000', '0.2'],
    ['ETHUSDT', '4000', '0.3'],
  ] as const) {
    await redis.hset(keys.position(symbol), 'symbol', symbol, 'position_notional_usd', notional, 'sigma', sigma);
    await redis.sadd(keys.activePositions, symbol);
  }
}

export function proposal(planId: string): Record<string, string> {
  return { plan_id: planId, symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: `t-${planId}` };
}

/** One field of every entry of a stream, read in pages so 50,000 entries stay cheap. */
export async function fieldOfAll(redis: Redis, stream: string, field: string): Promise<string[]> {
  const values: string[] = [];
  let start = '-';
  for (;;) {
    const page = await redis.xrange(stream, start, '+', 'COUNT', 5000);
    for (const [, fields] of page) {
      const at = fields.findIndex((f, i) => i % 2 === 0 && f === field);
      values.push(at >= 0 ? fields[at + 1]! : '');
    }
    if (page.length < 5000) return values;
    start = `(${page[page.length - 1]![0]}`;
  }
}

/** Entries pending per consumer of a group. */
export async function pendingByConsumer(redis: Redis, stream: string, group: string): Promise<Map<string, number>> {
  const rows = (await redis.call('XINFO', 'CONSUMERS', stream, group)) as unknown[][];
  const result = new Map<string, number>();
  for (const row of rows) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < row.length; i += 2) info.set(String(row[i]), row[i + 1]);
    result.set(String(info.get('name')), Number(info.get('pending')));
  }
  return result;
}

/** Values that occur more than once. */
export function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const v of values) (seen.has(v) ? twice : seen).add(v);
  return [...twice];
}
