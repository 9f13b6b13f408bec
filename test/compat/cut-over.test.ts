/**
 * Cut-over: the original governor (8f5055c52) stopped with its state left in Redis, then the
 * runtime starts with the governor. Every plan is decided as the original would, none fails on
 * a leftover, and nothing the governor does not own changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { governorDecided, pendingCount, startRuntime } from '../support/runtime.js';

describe('compat: cut-over from the original governor', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('reads its exec lists and last_exec keys, ignores a disarm record, reclaims its pending plans and sees P3.3 positions', async () => {
    const r = redis.client;
    const now = Date.now() / 1000;
    const today = new Date().toISOString().slice(0, 10);
    // The original's leftovers: _issue_permit's list, a cooldown, a disarm record of today.
    await r.lpush(keys.governorExecutions('SOLUSDT'), '1795000000');
    await r.expire(keys.governorExecutions('SOLUSDT'), 86_400);
    await r.set(keys.governorLastExec('BTCUSDT'), String(now - 10), 'EX', 3600);
    await r.hset(keys.governorLastExec('ETHUSDT'), { junk: '1' }); // a key of another type: ignored, never fatal
    const disarmRecord = JSON.stringify({ reason: 'repeated_errors', context: { error_count: 5, threshold: 5 }, timestamp: now - 600 });
    await r.set(keys.governorDisarmOfDay(today), disarmRecord, 'EX', 86_400);
    // Plans the original read in its consumer group and never acknowledged.
    await r.xgroup('CREATE', streams.applyPlan, 'governor', '$', 'MKSTREAM');
    // The market the opens are priced at (the market-state producer's hashes; not the original's leftovers).
    for (const [symbol, price] of [
      ['SOLUSDT', '100'],
      ['BTCUSDT', '100000'],
      ['ETHUSDT', '2000'],
    ])
      await r.hset(keys.marketState(symbol!), 'mark_price', price!);
    const plan = (fields: Record<string, string>) =>
      r.xadd(streams.applyPlan, '*', ...Object.entries({ decision: 'EXECUTE', kill_score: '0.1', side: 'BUY', ...fields }).flat());
    await plan({ plan_id: 'sol-open', symbol: 'SOLUSDT', action: 'OPEN', qty: '1', price: '100' });
    await plan({ plan_id: 'btc-open', symbol: 'BTCUSDT', action: 'OPEN', qty: '0.001', price: '100000' });
    await r.xreadgroup('GROUP', 'governor', 'gov-4242', 'COUNT', 10, 'STREAMS', streams.applyPlan, '>');
    expect(await pendingCount(r, streams.applyPlan, 'governor')).toBe(2);

    runtime = await startRuntime(redis.url, { HANDLERS: 'governor', CLAIM_IDLE_MS: '100', CLAIM_INTERVAL_MS: '100' });
    await plan({ plan_id: 'eth-open', symbol: 'ETHUSDT', action: 'OPEN', qty: '0.01', price: '2000' });
    // The leftovers decided before P3.3 reports its position: once it does, every open counts it
    // (the key watch sees P3.3's write before the next decision), so these three are judged first.
    await governorDecided(r, 3);
    // P3.3's hash: $50,000 of ADA (not ours: read, never written).
    const p33 = keys.p33PositionSnapshot('ADAUSDT');
    await r.hset(p33, {
      position_amt: '100000',
      side: 'LONG',
      entry_price: '0.5',
      mark_price: '0.5',
      unrealized_pnl: '0',
      leverage: '5',
      ts_epoch: String(now),
    });
    await r.expire(p33, 3600);
    const notOurs = [p33, keys.governorDisarmOfDay(today)];
    const before = await Promise.all(notOurs.map((k) => r.dump(k)));
    await plan({ plan_id: 'ada-open', symbol: 'ADAUSDT', action: 'OPEN', qty: '10', price: '0.5' });
    await plan({ plan_id: 'ada-close', symbol: 'ADAUSDT', action: 'PARTIAL_50', side: 'SELL', qty: '50000' });

    const decided = Object.fromEntries((await governorDecided(r, 5)).map((e) => [e.plan_id, [e.event, e.reason]]));
    expect(decided).toEqual({
      'sol-open': ['permit', 'all_gates_passed'], // the leftover list is read, not WRONGTYPE
      'btc-open': ['block', 'symbol_cooldown'], // the original's last_exec 10 s ago
      'eth-open': ['permit', 'all_gates_passed'], // a last_exec of another type is ignored
      'ada-open': ['block', 'total_notional_exceeded'], // P3.3's $50,000
      'ada-close': ['permit', 'close_bypass'],
    });
    expect(await r.lrange(keys.governorExecutions('SOLUSDT'), 0, -1)).toEqual([expect.stringMatching(/^\d+\.\d+$/), '1795000000']);
    expect(await r.get(keys.governorLastExec('ETHUSDT'))).toMatch(/^\d+\.\d+$/);
    // No disarm: the original's record of today does not block, and nothing failed.
    expect(await r.exists(keys.governorDisarm)).toBe(0);
    expect(await pendingCount(r, streams.applyPlan, 'governor')).toBe(0);
    // Keys the governor does not own are exactly as they were (value and TTL still running).
    expect(await Promise.all(notOurs.map((k) => r.dump(k)))).toEqual(before);
    expect(await r.ttl(p33)).toBeGreaterThan(3500);
    expect(await r.get(keys.governorDisarmOfDay(today))).toBe(disarmRecord);
  });
});
