import { afterEach, describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';
import { runCliJson } from './cli-harness.js';

/**
 * Issue #26 item 4 over every path a governor decision takes: with the configured settings,
 * `report calibrate` decides each recorded plan again with the governor's own rules and gets the
 * recorded permit or block and reason, whatever stopped it (the kill switch, a disarm, a stale
 * plan, a timestamp from the future, no price, a price that disagrees, each cap), on the testnet
 * and production paths.
 */
describe('report calibrate reproduces every recorded governor decision', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const now = () => Date.now() / 1000;
  const open = (planId: string, symbol: string, qty: string, extra: Record<string, string> = {}) => ({
    plan_id: planId,
    symbol,
    action: 'OPEN_LONG',
    side: 'BUY',
    qty,
    kill_score: '0.1',
    decision: 'EXECUTE',
    timestamp: String(now()),
    ...extra,
  });

  async function plan(fields: Record<string, string>): Promise<void> {
    const before = await redis.client.xlen(streams.governorEvents);
    await redis.client.xadd(streams.applyPlan, '*', ...Object.entries(fields).flat());
    await waitFor(async () => (await redis.client.xlen(streams.governorEvents)) > before, { what: `the decision of ${fields.plan_id}` });
  }

  interface Report {
    reproduction: { governor: { checked: number; reproduced: number; mismatches: unknown[]; withoutInputs: number } };
  }

  it.each([
    ['testnet', { APPLY_MODE: 'testnet', GOV_MAX_OPEN_POSITIONS: '3' }],
    ['production', { APPLY_MODE: 'production', GOV_MAX_EXEC_PER_HOUR: '1', GOV_MAX_REDUCE_NOTIONAL_PER_DAY_USD: '50' }],
  ])('on the %s path', async (path, settings) => {
    for (const [symbol, mark] of [
      ['BTCUSDT', '100'],
      ['ETHUSDT', '100'],
      ['SOLUSDT', '10'],
      ['ADAUSDT', '1'],
      ['DOGEUSDT', '1'],
    ] as const)
      await redis.client.hset(keys.marketState(symbol), 'mark_price', mark);
    await redis.client.hset(keys.p33PositionSnapshot('ETHUSDT'), {
      position_amt: '1',
      side: 'LONG',
      entry_price: '100',
      mark_price: '100',
      ts_epoch: String(Math.floor(now())),
    });
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor', ...settings }, [governor]);

    await plan(open('ok', 'BTCUSDT', '1')); // $100: permitted (testnet), sized from no position (production)
    await plan(open('cool', 'BTCUSDT', '1')); // testnet: the symbol's cooldown; production: its hourly count
    await plan(open('big', 'SOLUSDT', '50')); // $500 > $200 per trade
    await plan(open('noprice', 'XRPUSDT', '1')); // no mark price
    await plan(open('mismatch', 'ADAUSDT', '10', { price: '2' })); // the plan's price is 100 % off the mark
    await plan(open('ok2', 'DOGEUSDT', '10')); // $10: permitted
    await plan(open('score', 'DOGEUSDT', '10', { kill_score: '0.9' })); // production: a critical kill score
    await plan(open('stale', 'ADAUSDT', '10', { timestamp: String(now() - 3600) })); // an hour old
    await plan(open('future', 'ADAUSDT', '10', { timestamp: String(now() + 3600) })); // an hour ahead
    // testnet: bypasses the caps; production: $100 closed > the $50 daily limit.
    await plan({ plan_id: 'close', symbol: 'ETHUSDT', action: 'FULL_CLOSE_PROPOSED', kill_score: '0.9', decision: 'EXECUTE' });
    await plan(open('positions', 'ADAUSDT', '10')); // testnet: ETHUSDT held (P3.3, seen through the key watch) and BTC's and DOGE's reserved slots ≥ 3
    await redis.client.set(keys.governorDisarm, 'test');
    await plan(open('disarmed', 'ADAUSDT', '10'));
    await redis.client.del(keys.governorDisarm);
    await redis.client.set(keys.killSwitch, '1');
    await plan(open('killed', 'ADAUSDT', '10'));
    await plan({ plan_id: 'killed-close', symbol: 'ETHUSDT', action: 'FULL_CLOSE_PROPOSED', decision: 'EXECUTE' });

    const report = await runCliJson<Report>(['report', 'calibrate', '--since', '1h'], { REDIS_URL: redis.url, ...settings });
    expect(report.reproduction.governor).toEqual({ checked: 14, reproduced: 14, mismatches: [], withoutInputs: 0 });
    // Every kind of decision was there to reproduce.
    const reasons = (await redis.client.xrange(streams.governorEvents, '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]);
    expect(new Set(reasons)).toEqual(
      new Set(
        path === 'testnet'
          ? [
              'all_gates_passed',
              'symbol_cooldown',
              'notional_per_trade_exceeded',
              'market_price_unknown',
              'plan_price_mismatch',
              'plan_too_old',
              'plan_time_in_future',
              'close_bypass',
              'max_positions_reached',
              'disarmed',
              'kill_switch_active',
            ]
          : [
              'all_gates_passed',
              'hourly_limit_exceeded',
              'kill_score_critical_non_close',
              'plan_too_old',
              'plan_time_in_future',
              'daily_limit_exceeded',
              'disarmed',
              'kill_switch_active',
            ],
      ),
    );
  });
});
