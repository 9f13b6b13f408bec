/**
 * Golden cases from the original P3.2 governor (binyaminsemerci-ops/quantum_trader 8f5055c52,
 * microservices/governor/main.py), each run through the real runtime against a private
 * redis-server. Each case cites the line of the original it reproduces.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startRuntime } from '../support/runtime.js';
import { untilStream } from '../support/until.js';
import { worldTime } from '../support/clock.js';
import type { Clock } from '../../runtime/engine/clock.js';

const EVENTS = streams.governorEvents;
/** A Python float as repr() writes it: digits with a point. */
const PY_FLOAT = /^\d+\.\d+$/;

describe('compat: P3.2 governor paths (8f5055c52)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const start = async (env: Record<string, string> = {}, options: { clock?: Clock } = {}) => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor', ...env }, undefined, options);
  };
  /**
   * Adds a plan. We price an open at the market's mark price (stricter than the original, which
   * took the plan's), so the symbol's market state is set to the plan's price first unless a test
   * set one: the golden cases then see the same price the original would have used.
   */
  const submit = async (fields: Record<string, string>) => {
    if (fields.symbol !== undefined && fields.price) await redis.client.hsetnx(keys.marketState(fields.symbol), 'mark_price', fields.price);
    return redis.client.xadd(streams.applyPlan, '*', ...Object.entries({ decision: 'EXECUTE', kill_score: '0.1', ...fields }).flat());
  };
  const decision = (planId: string) =>
    untilStream(
      redis.client,
      EVENTS,
      (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
      {
        what: `decision ${planId}`,
      },
    );
  /** A position in our view of the snapshot stream (the book every gate reads). */
  const hold = async (symbol: string, qty: string, notional: string) => {
    await redis.client.hset(keys.position(symbol), { symbol, qty, position_notional_usd: notional, mark_price: '1' });
    await redis.client.sadd(keys.activePositions, symbol);
  };
  const metrics = async () => (await runtime!.server.inject({ method: 'GET', url: '/metrics' })).body;

  describe('testnet (the default: os.getenv("APPLY_MODE", "testnet"))', () => {
    it('a close: permit JSON with computed_qty=0.0, computed_notional=0.0, TTL 60; exec list and last_exec written', async () => {
      await start();
      await submit({ plan_id: 'close-1', symbol: 'BTCUSDT', action: 'PARTIAL_25', side: 'SELL', qty: '5', price: '100000' });
      expect(await decision('close-1')).toMatchObject({ event: 'permit', reason: 'close_bypass' });
      // _issue_permit: json.dumps({'granted': True, 'symbol', 'decision': 'EXECUTE', 'computed_qty', 'computed_notional', 'created_at': time.time(), 'consumed': False}), setex 60
      const permit = (await redis.client.get(keys.permit('close-1')))!;
      expect(permit).toMatch(
        /^\{"granted": true, "symbol": "BTCUSDT", "decision": "EXECUTE", "computed_qty": 0\.0, "computed_notional": 0\.0, "created_at": \d+\.\d+, "consumed": false\}$/,
      );
      expect(await redis.client.ttl(keys.permit('close-1'))).toBeGreaterThan(55);
      // self.redis.lpush(exec_key, str(time.time())); ltrim 0 99; expire 86400
      expect(await redis.client.type(keys.governorExecutions('BTCUSDT'))).toBe('list');
      expect((await redis.client.lrange(keys.governorExecutions('BTCUSDT'), 0, -1))[0]).toMatch(PY_FLOAT);
      expect(await redis.client.ttl(keys.governorExecutions('BTCUSDT'))).toBeGreaterThan(86_000);
      // setex(f"quantum:governor:last_exec:{symbol}", 3600, str(time.time())) after a close
      expect(await redis.client.get(keys.governorLastExec('BTCUSDT'))).toMatch(PY_FLOAT);
      expect(await redis.client.ttl(keys.governorLastExec('BTCUSDT'))).toBeGreaterThan(3500);
      // METRIC_ALLOW = Counter('quantum_govern_allow_total', 'Plans allowed', ['symbol'])
      expect(await metrics()).toMatch(/^quantum_govern_allow_total\{symbol="BTCUSDT"\} 1$/m);
    });

    it('FULL_CLOSE, partial_50 and PARTIAL_10 are opens (is_close_action = action in [4 names]); an open in the cooldown is symbol_cooldown', async () => {
      await redis.client.set(keys.governorLastExec('BTCUSDT'), String(Date.now() / 1000 - 10), 'EX', 3600);
      await start();
      for (const action of ['FULL_CLOSE', 'partial_50', 'PARTIAL_10']) {
        await submit({ plan_id: `open-${action}`, symbol: 'BTCUSDT', action, side: 'SELL', qty: '0.001', price: '100000' });
        // Gate 1: time_since_last < SYMBOL_COOLDOWN_SECONDS → _block_plan(..., 'symbol_cooldown')
        expect(await decision(`open-${action}`)).toMatchObject({ event: 'block', reason: 'symbol_cooldown', kind: 'open' });
      }
      // _block_plan: setex(block_key, 3600, json.dumps({'reason', 'timestamp': time.time(), 'symbol'}))
      expect(await redis.client.get(keys.governorBlock('open-FULL_CLOSE'))).toMatch(
        /^\{"reason": "symbol_cooldown", "timestamp": \d+\.\d+, "symbol": "BTCUSDT"\}$/,
      );
      expect(await redis.client.ttl(keys.governorBlock('open-FULL_CLOSE'))).toBeGreaterThan(3500);
      // METRIC_BLOCK = Counter('quantum_govern_block_total', 'Plans blocked', ['symbol', 'reason'])
      expect(await metrics()).toMatch(/^quantum_govern_block_total\{symbol="BTCUSDT",reason="symbol_cooldown"\} 3$/m);
    });

    it('max positions counts only for BUY/LONG and ignores dust (abs(positionAmt) > 0.0001)', async () => {
      for (let i = 0; i < 10; i++) await hold(`P${i}USDT`, i < 9 ? '0.5' : '0.00005', i < 9 ? '0.5' : '0.00005'); // the 10th is dust
      await start({ GOV_MAX_OPEN_POSITIONS: '9' });
      // if self.binance_client and side in ['BUY', 'LONG']: … position_count >= MAX_OPEN_POSITIONS → 'max_positions_reached'
      await submit({ plan_id: 'buy', symbol: 'XRPUSDT', action: 'OPEN', side: 'BUY', qty: '1', price: '1' });
      expect(await decision('buy')).toMatchObject({ event: 'block', reason: 'max_positions_reached' });
      await submit({ plan_id: 'sell', symbol: 'ADAUSDT', action: 'OPEN', side: 'SELL', qty: '1', price: '1' });
      expect(await decision('sell')).toMatchObject({ event: 'permit' });
    });

    it('per trade: abs(qty) × mark > MAX_NOTIONAL_PER_TRADE_USDT → notional_per_trade_exceeded; total: the book alone >= cap', async () => {
      await redis.client.hset(keys.marketState('BTCUSDT'), { mark_price: '100000' });
      await start();
      await submit({ plan_id: 'big', symbol: 'BTCUSDT', action: 'OPEN', side: 'BUY', qty: '0.0021' });
      expect(await decision('big')).toMatchObject({ event: 'block', reason: 'notional_per_trade_exceeded' });
      // total_notional = sum(abs(notional)) over positions; the trade itself is not added
      await hold('ETHUSDT', '1', '1900');
      await submit({ plan_id: 'fits', symbol: 'SOLUSDT', action: 'OPEN', side: 'BUY', qty: '1', price: '100' });
      expect(await decision('fits')).toMatchObject({ event: 'permit', reason: 'all_gates_passed' });
      await hold('ETHUSDT', '1', '2000');
      await submit({ plan_id: 'at-cap', symbol: 'ADAUSDT', action: 'OPEN', side: 'BUY', qty: '1', price: '1' });
      expect(await decision('at-cap')).toMatchObject({ event: 'block', reason: 'total_notional_exceeded' });
    });

    it('a blocked plan_id is evaluated again; a permitted one is not (`if self.redis.exists(permit_key): return`)', async () => {
      // The governor's clock is the test's: the cooldown runs out when the test moves it on.
      let offsetMs = 0;
      await redis.client.set(keys.governorLastExec('ETHUSDT'), String(Date.now() / 1000), 'EX', 3600);
      await start(
        { GOV_SYMBOL_COOLDOWN_SECONDS: '1' },
        worldTime(() => Date.now() + offsetMs),
      );
      await submit({ plan_id: 'again', symbol: 'ETHUSDT', action: 'OPEN', side: 'BUY', qty: '0.01', price: '2000' });
      expect(await decision('again')).toMatchObject({ event: 'block', reason: 'symbol_cooldown' });
      offsetMs += 1100;
      await submit({ plan_id: 'again', symbol: 'ETHUSDT', action: 'OPEN', side: 'BUY', qty: '0.01', price: '2000' });
      await untilStream(
        redis.client,
        EVENTS,
        (events) => events.filter((e) => e.plan_id === 'again' && e.event === 'permit').length === 1,
        {
          what: 'second evaluation',
        },
      );
    });
  });

  describe('production (any other APPLY_MODE)', () => {
    it('kill_score >= 0.8 on a non-close → kill_score_critical_non_close; PARTIAL_25 is not exempt', async () => {
      await start({ APPLY_MODE: 'production' });
      // if action not in ['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50']: _block_plan(..., 'kill_score_critical_non_close')
      await submit({ plan_id: 'ks-25', symbol: 'BTCUSDT', action: 'PARTIAL_25', kill_score: '0.9' });
      expect(await decision('ks-25')).toMatchObject({ event: 'block', reason: 'kill_score_critical_non_close' });
      await submit({ plan_id: 'ks-50', symbol: 'BTCUSDT', action: 'PARTIAL_50', kill_score: '0.9' });
      expect(await decision('ks-50')).toMatchObject({ event: 'permit' });
    });

    it('computes the permit from the position (PARTIAL_50 → pos × 0.5, × mark) and adds it to the daily key', async () => {
      await redis.client.hset(keys.p33PositionSnapshot('ETHUSDT'), {
        position_amt: '-0.4',
        side: 'SHORT',
        mark_price: '2000',
        ts_epoch: String(Date.now() / 1000),
      });
      await start({ APPLY_MODE: 'production' });
      await submit({ plan_id: 'p50', symbol: 'ETHUSDT', action: 'PARTIAL_50' });
      expect(await decision('p50')).toMatchObject({ event: 'permit' });
      const permit = JSON.parse((await redis.client.get(keys.permit('p50')))!) as Record<string, number>;
      expect(permit).toMatchObject({ computed_qty: 0.2, computed_notional: 400 });
      // daily_key = f"quantum:governor:daily:{symbol}:{today}"; setex(daily_key, 86400, str(new_total))
      const daily = keys.governorDaily('ETHUSDT', new Date().toISOString().slice(0, 10));
      expect(await redis.client.get(daily)).toBe('400.0');
      expect(await redis.client.ttl(daily)).toBeGreaterThan(86_000);
    });

    it('hourly, then burst with auto-disarm: quantum:governor:disarm:{date}, an AUTO_DISARM event, quantum_govern_disarm_total{reason="burst_limit_breach"}', async () => {
      const now = Date.now() / 1000;
      await redis.client.lpush(keys.governorExecutions('BTCUSDT'), String(now - 100), String(now - 50));
      await redis.client.lpush(keys.governorExecutions('ETHUSDT'), String(now - 3000), String(now - 2000), String(now - 1000));
      await start({ APPLY_MODE: 'production' });
      await submit({ plan_id: 'hour', symbol: 'ETHUSDT', action: 'FULL_CLOSE_PROPOSED' });
      expect(await decision('hour')).toMatchObject({ event: 'block', reason: 'hourly_limit_exceeded' });
      await submit({ plan_id: 'burst', symbol: 'BTCUSDT', action: 'FULL_CLOSE_PROPOSED' });
      expect(await decision('burst')).toMatchObject({ event: 'block', reason: 'burst_limit_exceeded' });
      const disarm = await untilStream(redis.client, EVENTS, (events) => events.find((e) => e.event === 'AUTO_DISARM'), {
        what: 'AUTO_DISARM',
      });
      // xadd(STREAM_EVENTS, {'event': 'AUTO_DISARM', 'reason', 'context': json.dumps(context), 'timestamp', 'action_taken'})
      expect(
        Object.keys(disarm)
          .filter((k) => k !== '_id')
          .sort(),
      ).toEqual(['action_taken', 'context', 'event', 'reason', 'timestamp']);
      expect(disarm).toMatchObject({ reason: 'burst_limit_breach', context: '{"symbol": "BTCUSDT", "exec_5min": 2, "limit": 2}' });
      const record = await redis.client.get(keys.governorDisarmOfDay(new Date().toISOString().slice(0, 10)));
      expect(record).toMatch(
        /^\{"reason": "burst_limit_breach", "context": \{"symbol": "BTCUSDT", "exec_5min": 2, "limit": 2\}, "timestamp": \d+\.\d+\}$/,
      );
      expect(await metrics()).toMatch(/^quantum_govern_disarm_total\{reason="burst_limit_breach"\} 1$/m);
    });
  });

  describe('dry_run', () => {
    it('auto-approves with 0.0 and 0.0 whatever the plan ("Dry-run mode - auto-approving")', async () => {
      await start({ APPLY_MODE: 'dry_run' });
      await submit({ plan_id: 'dry', symbol: 'BTCUSDT', action: 'OPEN', side: 'BUY', qty: '100', price: '100000', kill_score: '0.99' });
      expect(await decision('dry')).toMatchObject({ event: 'permit', reason: 'dry_run', apply_mode: 'dry_run' });
      expect(JSON.parse((await redis.client.get(keys.permit('dry')))!)).toMatchObject({ computed_qty: 0, computed_notional: 0 });
    });
  });
});
