/**
 * The last differences from the originals on the same inputs (issue #22 item 8), governor side:
 * P3.2 at 8f5055c52 (`_evaluate_plan`, microservices/governor/main.py lines 244-366) took the
 * plan's symbol verbatim (`data.get('symbol', 'UNKNOWN')`) and priced an open as
 * `abs(float(qty)) * mark_price` (line 336). A lower-case symbol or a negative qty was decided, with
 * its permit or block record; ours dead-lettered both, leaving the Apply Layer nothing to read.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { governorDecided, startRuntime } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

describe('the last differences: governor plans the original decided', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('a lower-case symbol and a negative qty are decided with a line in the ledger, never dead-lettered', async () => {
    const r = redis.client;
    for (const [symbol, price] of [
      ['BNBUSDT', '627.5'],
      ['XRPUSDT', '2.1'],
    ] as const)
      await r.hset(keys.marketState(symbol), 'mark_price', price);
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor' });
    const now = String(Math.floor(Date.now() / 1000));
    const plan = (fields: Record<string, string>) =>
      r.xadd(streams.applyPlan, '*', ...Object.entries({ decision: 'EXECUTE', timestamp: now, ...fields }).flat());
    await plan({ plan_id: 'lower-close', symbol: 'solusdt', action: 'PARTIAL_50', kill_score: '0.2' });
    await plan({ plan_id: 'lower-open', symbol: 'adausdt', side: 'BUY', qty: '100' });
    await plan({ plan_id: 'negative-small', symbol: 'BNBUSDT', side: 'SELL', qty: '-0.22' });
    await plan({ plan_id: 'negative-large', symbol: 'XRPUSDT', side: 'SELL', qty: '-275' });

    const decided = Object.fromEntries((await governorDecided(r, 4)).map((e) => [e.plan_id, [e.event, e.symbol, e.reason]]));
    expect(decided).toEqual({
      // The original: `is_close_action` → `_issue_permit(plan_id, symbol, …)` under the symbol as given.
      'lower-close': ['permit', 'solusdt', 'close_bypass'],
      // The original asked Binance for 'adausdt' and skipped the cap when that failed; ours blocks an
      // open it cannot price (docs/migration.md, "governor open pricing").
      'lower-open': ['block', 'adausdt', 'market_price_unknown'],
      // abs(-0.22) × 627.5 = $138.05 ≤ $200; abs(-275) × 2.1 = $577.50 > $200.
      'negative-small': ['permit', 'BNBUSDT', 'all_gates_passed'],
      'negative-large': ['block', 'XRPUSDT', 'notional_per_trade_exceeded'],
    });
    expect(await r.exists(keys.permit('lower-close'), keys.governorBlock('lower-open'))).toBe(2);
    expect(await r.xlen(streams.deadLetter)).toBe(0);
  });

  it('a symbol no exchange writes (a slash, a colon) is still dead-lettered', async () => {
    const r = redis.client;
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor' });
    await r.xadd(streams.applyPlan, '*', 'plan_id', 'slash', 'symbol', 'BNB/USDT', 'decision', 'EXECUTE', 'action', 'PARTIAL_50');
    await untilStreamLength(r, streams.deadLetter, 1, { what: 'the dead letter' });
    expect(await r.xlen(streams.deadLetter)).toBe(1);
    expect(await r.exists(keys.permit('slash'), keys.governorBlock('slash'))).toBe(0);
  });
});
