import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, produce, startRuntime, waitFor, governorDecided } from '../support/runtime.js';
import { afterRepliesSent, untilKeys } from '../support/until.js';

/**
 * Issue #23: the fund caps hold under a burst. Every open is priced at its market state's
 * mark_price; the book is P3.3 hashes only. Counts are exact: the caps allow what they allow,
 * with one process, one batch, or three replicas.
 */

const MARK = '100';
/** $150 at a mark of 100. */
const OPEN_QTY = '1.5';

/**
 * A P3.3 hash as the Position State Brain writes it: upstream microservices/position_state_brain/main.py
 * at 8f5055c52, lines 211-223 (hset of position_amt, side, entry_price, mark_price, unrealized_pnl,
 * leverage, ts_epoch, source; expire 3600).
 */
async function p33Position(redis: ReturnType<typeof usePrivateRedis>, symbol: string, amt: string, mark: string): Promise<void> {
  const key = keys.p33PositionSnapshot(symbol);
  await redis.client.hset(key, {
    position_amt: amt,
    side: Number(amt) >= 0 ? 'LONG' : 'SHORT',
    entry_price: mark,
    mark_price: mark,
    unrealized_pnl: '0',
    leverage: '5',
    ts_epoch: String(Math.floor(Date.now() / 1000)),
    source: 'binance_testnet',
  });
  await redis.client.expire(key, 3600);
}

/**
 * An open on apply.plan: the fields upstream's publish_plan writes (microservices/apply_layer/main.py
 * at 8f5055c52, lines 673-690: plan_id, symbol, action, kill_score, decision, price, timestamp),
 * with the side and qty an open carries.
 */
function open(planId: string, symbol: string): Record<string, string> {
  return {
    plan_id: planId,
    symbol,
    action: 'OPEN_LONG',
    kill_score: '0.1',
    decision: 'EXECUTE',
    side: 'BUY',
    qty: OPEN_QTY,
    price: MARK,
    timestamp: String(Date.now() / 1000),
  };
}

describe('governor caps under a burst (issue #23)', () => {
  const redis = usePrivateRedis();
  let runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
    runtimes = [];
  });

  /** The book: `count` P3.3 positions of $150 each, every one indexed before the burst starts. */
  async function book(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await p33Position(redis, `BOOK${i}USDT`, '1.5', MARK);
  }

  async function burst(opts: { book: number; opens: number; replicas: number; env?: Record<string, string> }) {
    await book(opts.book);
    for (let i = 0; i < opts.opens; i++) await redis.client.hset(keys.marketState(`NEW${i}USDT`), 'mark_price', MARK);
    const env = {
      HANDLERS: 'governor,position-index',
      POSITION_INDEX_REFRESH_SEC: '1',
      GOV_MAX_OPEN_POSITIONS: '10',
      GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200',
      GOV_MAX_TOTAL_NOTIONAL_USDT: '2000',
      BATCH_SIZE: '5',
      ...opts.env,
    };
    for (let r = 0; r < opts.replicas; r++) runtimes.push(await startRuntime(redis.url, { ...env, CONSUMER_NAME: `caps-${r}` }));
    // Every replica sees the whole book before the burst (the index is shared in Redis).
    await untilKeys(
      redis.client,
      [keys.p33PositionIndex],
      async () => (await redis.client.scard(keys.p33PositionIndex)) === opts.book || opts.book === 0,
      {
        what: 'P3.3 index holds the book',
      },
    );
    const plans = Array.from({ length: opts.opens }, (_, i) => open(`burst-${i}`, `NEW${i}USDT`));
    await produce(redis.client, streams.applyPlan, plans);
    const decided = await governorDecided(redis.client, plans.length, 30_000);
    // Each plan acknowledged in the commit that wrote its decision (a plan_id is decided once).
    expect(await pendingCount(redis.client, streams.applyPlan, 'governor')).toBe(0);
    const permits = decided.filter((e) => e.event === 'permit');
    const reasons = [...new Set(decided.filter((e) => e.event === 'block').map((e) => e.reason))].sort();
    const reserved = await redis.client.zcard(keys.governorReservations);
    // Which replica handled how many entries (so a three-replica run shows all three took part),
    // counted on the replies of the commits seen, sent before this round trip's.
    await afterRepliesSent(redis.client);
    const handledBy = await Promise.all(
      runtimes.map(async (r) => {
        const body = (await r.server.inject({ method: 'GET', url: '/metrics' })).body;
        return body
          .split('\n')
          .filter((line) => line.startsWith('quantum_gates_messages_total{') && line.includes('handler="governor"'))
          .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
      }),
    );
    return { decided, permits, reasons, reserved, handledBy };
  }

  for (const replicas of [1, 3]) {
    it(`book 9 / $1,350, 40 opens of $150, caps 10 / $200 / $2,000, ${replicas} process(es): exactly 1 permit`, async () => {
      const { decided, permits, reasons, reserved, handledBy } = await burst({ book: 9, opens: 40, replicas });
      expect(decided).toHaveLength(40);
      expect(handledBy.reduce((a, b) => a + b, 0)).toBe(40);
      expect(handledBy.every((n) => n > 0)).toBe(true);
      // 9 positions + 1 reserved = 10: the position cap allows one open.
      expect(permits).toHaveLength(1);
      expect(reasons).toEqual(['max_positions_reached']);
      expect(reserved).toBe(1);
      console.info(
        `burst of 40 (${replicas} process(es), handled ${handledBy.join(' / ')}): ${permits.length} permitted, blocked ${reasons.join(', ')}`,
      );
    });

    it(`the same with GOV_TOTAL_NOTIONAL_COUNTS_TRADE=true, ${replicas} process(es): exactly 1 permit`, async () => {
      const { permits } = await burst({ book: 9, opens: 40, replicas, env: { GOV_TOTAL_NOTIONAL_COUNTS_TRADE: 'true' } });
      expect(permits).toHaveLength(1);
    });

    it(`the total cap binds (book 5 / $750, 40 opens, position cap 100), ${replicas} process(es): 9 permits, 8 when the trade counts`, async () => {
      // The original's rule: the book at or over $2,000 blocks, so 750 + 8 × 150 = 1,950 < 2,000 still permits a ninth.
      const plain = await burst({ book: 5, opens: 40, replicas, env: { GOV_MAX_OPEN_POSITIONS: '100' } });
      expect(plain.permits).toHaveLength(9);
      expect(plain.reasons).toEqual(['total_notional_exceeded']);
      // Every permit's event shows the book and the reservations its decision counted.
      const seen = plain.permits.map((e) => Number(e.reserved_notional)).sort((a, b) => a - b);
      expect(seen).toEqual([0, 150, 300, 450, 600, 750, 900, 1050, 1200]);
      for (const e of plain.permits) expect(e.total_notional).toBe('750');
    });
  }

  it('GOV_TOTAL_NOTIONAL_COUNTS_TRADE=true with the total cap binding, three processes: 750 + 8 × 150 = 1,950, never above 2,000', async () => {
    const counted = await burst({
      book: 5,
      opens: 40,
      replicas: 3,
      env: { GOV_MAX_OPEN_POSITIONS: '100', GOV_TOTAL_NOTIONAL_COUNTS_TRADE: 'true' },
    });
    expect(counted.permits).toHaveLength(8);
    expect(counted.reserved).toBe(8);
  });

  /** A close as upstream's publish_plan writes it (microservices/apply_layer/main.py at 8f5055c52, lines 673-690). */
  const close = (planId: string, symbol: string) => ({
    plan_id: planId,
    symbol,
    action: 'FULL_CLOSE_PROPOSED',
    decision: 'EXECUTE',
    kill_score: '0.1',
  });

  it('production: a second close of a symbol while the first is in flight is blocked by the exit lock, which the fill releases', async () => {
    await redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', MARK);
    await p33Position(redis, 'ETHUSDT', '2', MARK);
    await produce(redis.client, streams.applyPlan, [close('exit-1', 'ETHUSDT'), close('exit-2', 'ETHUSDT')]);
    runtimes.push(await startRuntime(redis.url, { HANDLERS: 'governor,governor-exit-locks', APPLY_MODE: 'production' }));
    const decisions = (count: number) => governorDecided(redis.client, count);
    expect((await decisions(2)).map((e) => [e.plan_id, e.event, e.reason])).toEqual([
      ['exit-1', 'permit', 'all_gates_passed'],
      ['exit-2', 'block', 'exit_lock_busy_double_close_prevention'],
    ]);
    expect(await redis.client.get(keys.governorExitLock('ETHUSDT'))).toBe('exit-1');
    expect(await redis.client.ttl(keys.governorExitLock('ETHUSDT'))).toBeGreaterThan(0);

    // A result that is not the holder's fill releases nothing. The Apply Layer's publish_result
    // (microservices/apply_layer/main.py at 8f5055c52, lines 1318-1327) writes executed as str(bool).
    const result = (planId: string, executed: string) => ({
      plan_id: planId,
      symbol: 'ETHUSDT',
      decision: 'EXECUTE',
      executed,
      would_execute: executed,
      steps_results: '[]',
      error: '',
      timestamp: String(Math.floor(Date.now() / 1000)),
    });
    await produce(redis.client, streams.applyResult, [result('exit-2', 'True'), result('exit-1', 'False')]);
    const ignored = async () => {
      const body = (await runtimes[0]!.server.inject({ method: 'GET', url: '/metrics' })).body;
      return body
        .split('\n')
        .filter((line) => line.startsWith('quantum_govern_exit_lock_result_ignored_total{'))
        .map((line) => line.slice(0, line.lastIndexOf(' ')) + '=' + line.slice(line.lastIndexOf(' ') + 1))
        .sort();
    };
    await waitFor(
      async () => (await pendingCount(redis.client, streams.applyResult, 'governor-exit-locks')) === 0 && (await ignored()).length === 2,
      { what: 'both results read and counted' },
    );
    expect(await ignored()).toEqual([
      'quantum_govern_exit_lock_result_ignored_total{reason="not_executed"}=1',
      'quantum_govern_exit_lock_result_ignored_total{reason="not_holder"}=1',
    ]);
    expect(await redis.client.get(keys.governorExitLock('ETHUSDT'))).toBe('exit-1');

    await produce(redis.client, streams.applyResult, [result('exit-1', 'True')]);
    await untilKeys(
      redis.client,
      [keys.governorExitLock('ETHUSDT')],
      async () => (await redis.client.exists(keys.governorExitLock('ETHUSDT'))) === 0,
      {
        what: 'the lock released by the fill',
      },
    );
    await produce(redis.client, streams.applyPlan, [close('exit-3', 'ETHUSDT')]);
    expect((await decisions(3)).find((e) => e.plan_id === 'exit-3')).toMatchObject({ event: 'permit' });
  });

  it('testnet keeps the original close bypass: two closes of one symbol are both permitted', async () => {
    await p33Position(redis, 'ETHUSDT', '2', MARK);
    await produce(redis.client, streams.applyPlan, [close('tn-1', 'ETHUSDT'), close('tn-2', 'ETHUSDT')]);
    runtimes.push(await startRuntime(redis.url, { HANDLERS: 'governor' }));
    const decided = await governorDecided(redis.client, 2);
    expect(decided.map((e) => [e.plan_id, e.event, e.reason])).toEqual([
      ['tn-1', 'permit', 'close_bypass'],
      ['tn-2', 'permit', 'close_bypass'],
    ]);
    expect(await redis.client.exists(keys.governorExitLock('ETHUSDT'))).toBe(0);
  });

  it('a batch decides in order: a close and an over-cap open of one symbol read together give the original symbol_cooldown', async () => {
    await redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', MARK);
    await p33Position(redis, 'ETHUSDT', '1', MARK);
    // Both entries exist before the governor starts, so its first read takes them in one batch.
    await produce(redis.client, streams.applyPlan, [
      { plan_id: 'in-order-close', symbol: 'ETHUSDT', action: 'FULL_CLOSE_PROPOSED', decision: 'EXECUTE', side: 'SELL', qty: '1' },
      { ...open('in-order-open', 'ETHUSDT'), qty: '5' },
    ]);
    runtimes.push(await startRuntime(redis.url, { HANDLERS: 'governor' }));
    const decided = await governorDecided(redis.client, 2);
    expect(decided.map((e) => [e.plan_id, e.event, e.reason])).toEqual([
      ['in-order-close', 'permit', 'close_bypass'],
      ['in-order-open', 'block', 'symbol_cooldown'],
    ]);
  });
});
