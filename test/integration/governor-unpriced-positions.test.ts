import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { balanceTrackerSnapshot, P33_SEED_TTL_SEC, p33SeedHash, tickerHash, TICKER_TTL_SEC } from '../support/book-producers.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, produce, startRuntime, governorDecided } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';

/**
 * Issue #37 item 2: every open position counts, priced or not. The book is nine P3.3 positions
 * of 1.5 each whose hash carries no price: P3.3 writes mark_price 0.0 when the exchange gives
 * none (microservices/position_state_brain/main.py at 8f5055c52, line 141
 * `float(pos['markPrice']) if pos['markPrice'] else 0.0`, written at line 216), and four of them
 * have no mark_price field at all (the same hash with the field gone). Caps 10 positions / $200
 * per trade / $2,000 total; twenty opens of $150 on new symbols follow.
 */

const BOOK = Array.from({ length: 9 }, (_, i) => `HELD${i}USDT`);
const MARK = 100;

/** An open as upstream's publish_plan writes it (microservices/apply_layer/main.py at 8f5055c52, lines 673-690), with side and qty. */
function open(planId: string, symbol: string): Record<string, string> {
  return {
    plan_id: planId,
    symbol,
    action: 'OPEN_LONG',
    kill_score: '0.1',
    decision: 'EXECUTE',
    side: 'BUY',
    qty: '1.5',
    price: String(MARK),
    timestamp: String(Date.now() / 1000),
  };
}

describe('governor: a position without a price is still a position (issue #37)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  /** The governor's first decision event, once it has written one. */
  async function firstDecision(): Promise<Record<string, string>> {
    const [event] = await governorDecided(redis.client, 1);
    return event!;
  }

  async function unpricedBook(): Promise<void> {
    const nowSec = Date.now() / 1000;
    for (const [i, symbol] of BOOK.entries()) {
      const key = keys.p33PositionSnapshot(symbol);
      await redis.client.hset(key, p33SeedHash(1.5, 0, nowSec));
      if (i >= 5) await redis.client.hdel(key, 'mark_price');
      await redis.client.expire(key, P33_SEED_TTL_SEC);
    }
  }

  async function decide(plans: readonly Record<string, string>[]) {
    runtime = await startRuntime(redis.url, {
      HANDLERS: 'governor,position-index',
      POSITION_INDEX_REFRESH_SEC: '1',
      GOV_MAX_OPEN_POSITIONS: '10',
      GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200',
      GOV_MAX_TOTAL_NOTIONAL_USDT: '2000',
      GOV_SYMBOL_COOLDOWN_SECONDS: '0',
    });
    await untilKeys(redis.client, [keys.p33PositionIndex], async () => (await redis.client.scard(keys.p33PositionIndex)) === BOOK.length, {
      what: 'the index holds the book',
    });
    await produce(redis.client, streams.applyPlan, plans);
    const decided = await governorDecided(redis.client, plans.length, 30_000);
    // Each plan acknowledged in the commit that wrote its decision (a plan_id is decided once).
    expect(await pendingCount(redis.client, streams.applyPlan, 'governor')).toBe(0);
    return decided;
  }

  const opens = () => Array.from({ length: 20 }, (_, i) => open(`new-${i}`, `NEW${i}USDT`));

  async function pricedOpens(): Promise<void> {
    for (let i = 0; i < 20; i++) await redis.client.hset(keys.marketState(`NEW${i}USDT`), 'mark_price', String(MARK));
  }

  it('nine unpriced positions and no mark anywhere: every open blocked position_price_unknown, naming them; the nine still count as slots', async () => {
    await unpricedBook();
    await pricedOpens();
    const decided = await decide(opens());
    const permits = decided.filter((e) => e.event === 'permit');
    console.info(`9 unpriced positions, cap 10, 20 opens: ${permits.length} permitted`);
    expect(permits).toHaveLength(0);
    expect(new Set(decided.map((e) => e.reason))).toEqual(new Set(['position_price_unknown']));
    for (const e of decided) {
      expect(e.open_positions).toBe('9');
      expect(e.unpriced_positions).toBe(BOOK.join(','));
    }
    expect(await redis.client.get(keys.governorBlock('new-0'))).toContain('position_price_unknown');
  });

  it('the same book priced by the price feed alone: 9 positions and $1,350 counted, so exactly one open permitted', async () => {
    await unpricedBook();
    await pricedOpens();
    for (const symbol of BOOK) {
      await redis.client.hset(keys.ticker(symbol), tickerHash(symbol, MARK, Date.now()));
      await redis.client.expire(keys.ticker(symbol), TICKER_TTL_SEC);
    }
    const decided = await decide(opens());
    const permits = decided.filter((e) => e.event === 'permit');
    console.info(`9 positions priced by the ticker, cap 10, 20 opens: ${permits.length} permitted`);
    expect(permits).toHaveLength(1);
    expect(permits[0]).toMatchObject({ open_positions: '9', total_notional: '1350' });
    expect(permits[0]!.unpriced_positions).toBeUndefined();
    expect(new Set(decided.filter((e) => e.event === 'block').map((e) => e.reason))).toEqual(new Set(['max_positions_reached']));
  });

  it("an add on a held symbol P3.3 lists without a price, before any index has seen it: counted at the plan's own mark", async () => {
    const key = keys.p33PositionSnapshot('ADDUSDT');
    await redis.client.hset(key, p33SeedHash(1.5, 0, Date.now() / 1000));
    await redis.client.expire(key, P33_SEED_TTL_SEC);
    await redis.client.hset(keys.marketState('ADDUSDT'), 'mark_price', String(MARK));
    // The governor alone: no position index, so only the plan's own direct read finds the position.
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor', GOV_MAX_TOTAL_NOTIONAL_USDT: '2000' });
    await produce(redis.client, streams.applyPlan, [open('add-0', 'ADDUSDT')]);
    const event = await firstDecision();
    expect(event).toMatchObject({ event: 'permit', open_positions: '1', total_notional: '150' });
    expect(event.unpriced_positions).toBeUndefined();
  });

  it("an add on a held symbol no index has seen, its own mark 20 s old: counted at the ticker's fresher mark", async () => {
    const key = keys.p33PositionSnapshot('ADDUSDT');
    await redis.client.hset(key, p33SeedHash(1.5, 50, Date.now() / 1000 - 20));
    await redis.client.expire(key, P33_SEED_TTL_SEC);
    await ticker('ADDUSDT', MARK, Date.now() - 500);
    // The governor alone: only the plan's own direct read finds the position.
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor', GOV_MAX_TOTAL_NOTIONAL_USDT: '2000' });
    await produce(redis.client, streams.applyPlan, [open('add-0', 'ADDUSDT')]);
    const event = await firstDecision();
    expect(event).toMatchObject({ event: 'permit', open_positions: '1', total_notional: '150' });
  });

  it('closes are never blocked by an unpriced position: a full close of one of them passes the close bypass', async () => {
    await unpricedBook();
    const close = { plan_id: 'close-0', symbol: BOOK[0]!, action: 'FULL_CLOSE_PROPOSED', decision: 'EXECUTE', kill_score: '0.1' };
    const decided = await decide([close]);
    expect(decided.map((e) => [e.event, e.reason])).toEqual([['permit', 'close_bypass']]);
  });

  /** One open decided by a governor (and the position index) over the book as it is in Redis. */
  async function decideOne(plan: Record<string, string>, env: Record<string, string>, indexed: number) {
    runtime = await startRuntime(redis.url, {
      HANDLERS: 'governor,position-index',
      POSITION_INDEX_REFRESH_SEC: '1',
      GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200',
      GOV_SYMBOL_COOLDOWN_SECONDS: '0',
      ...env,
    });
    await untilKeys(redis.client, [keys.p33PositionIndex], async () => (await redis.client.scard(keys.p33PositionIndex)) === indexed, {
      what: 'the index holds the book',
    });
    await produce(redis.client, streams.applyPlan, [plan]);
    const event = await firstDecision();
    return event;
  }

  async function ticker(symbol: string, mark: number, atMs: number): Promise<void> {
    await redis.client.hset(keys.ticker(symbol), tickerHash(symbol, mark, atMs));
    await redis.client.expire(keys.ticker(symbol), TICKER_TTL_SEC);
  }

  it("a position with its own mark 20 s old and the ticker's 0.5 s old counts at the ticker's: the total cap decides on it", async () => {
    // Nine P3.3 positions of 1.5 whose own mark (50, written 20 s ago) halved since: at their own
    // marks the book is $675, at the price feed's fresher 100 it is $1,350, over a $1,300 cap.
    const stale = async (withTicker: boolean) => {
      await redis.client.flushall();
      for (const symbol of BOOK) {
        const key = keys.p33PositionSnapshot(symbol);
        await redis.client.hset(key, p33SeedHash(1.5, 50, Date.now() / 1000 - 20));
        await redis.client.expire(key, P33_SEED_TTL_SEC);
        if (withTicker) await ticker(symbol, MARK, Date.now() - 500);
      }
      await pricedOpens();
      const env = { GOV_MAX_OPEN_POSITIONS: '20', GOV_MAX_TOTAL_NOTIONAL_USDT: '1300' };
      const event = await decideOne(open('new-0', 'NEW0USDT'), env, BOOK.length);
      await runtime?.stop();
      runtime = undefined;
      return event;
    };
    expect(await stale(false)).toMatchObject({ event: 'permit', open_positions: '9', total_notional: '675' });
    expect(await stale(true)).toMatchObject({
      event: 'block',
      reason: 'total_notional_exceeded',
      open_positions: '9',
      total_notional: '1350',
    });
  });

  // The balance tracker writes mark_price = entry_price when Binance reports no entry price
  // (microservices/balance_tracker/balance_tracker.py at 73fab1f55, lines 206-209), so an open
  // position can arrive as position_qty 1.5, mark_price "0.0" (lines 229-244, XADD at line 247).
  async function balanceTrackerBook(): Promise<void> {
    await produce(redis.client, streams.positionSnapshot, [balanceTrackerSnapshot('BTUSDT', 1.5, 0, Date.now() / 1000)]);
    await pricedOpens();
  }

  it('a balance-tracker snapshot with mark 0 and no mark anywhere: a slot, and opens blocked position_price_unknown naming it', async () => {
    await balanceTrackerBook();
    const event = await decideOne(open('new-0', 'NEW0USDT'), { GOV_MAX_TOTAL_NOTIONAL_USDT: '2000' }, 0);
    expect(event).toMatchObject({ event: 'block', reason: 'position_price_unknown', open_positions: '1', unpriced_positions: 'BTUSDT' });
  });

  it("the same snapshot with a ticker mark: counted at the ticker's mark", async () => {
    await balanceTrackerBook();
    await ticker('BTUSDT', MARK, Date.now());
    const event = await decideOne(open('new-0', 'NEW0USDT'), { GOV_MAX_TOTAL_NOTIONAL_USDT: '2000' }, 0);
    expect(event).toMatchObject({ event: 'permit', open_positions: '1', total_notional: '150' });
    expect(event.unpriced_positions).toBeUndefined();
  });

  it('the same snapshot once our view has applied it: still a slot, still blocking opens', async () => {
    runtime = await startRuntime(redis.url, {
      HANDLERS: 'governor,position-index,position-snapshot',
      GOV_MAX_TOTAL_NOTIONAL_USDT: '2000',
      GOV_SYMBOL_COOLDOWN_SECONDS: '0',
    });
    await balanceTrackerBook();
    await untilKeys(
      redis.client,
      [keys.position('BTUSDT')],
      async () => (await redis.client.hget(keys.position('BTUSDT'), 'qty')) === '1.5',
      {
        what: 'the view applied the snapshot',
      },
    );
    // Acknowledged in the commit that wrote the view.
    expect(await pendingCount(redis.client, streams.positionSnapshot, 'position_snapshot')).toBe(0);
    await produce(redis.client, streams.applyPlan, [open('new-0', 'NEW0USDT')]);
    const event = await firstDecision();
    expect(event).toMatchObject({ event: 'block', reason: 'position_price_unknown', open_positions: '1', unpriced_positions: 'BTUSDT' });
  });

  it('a slot at the position cap: the balance-tracker position without a price fills the last slot', async () => {
    await balanceTrackerBook();
    const event = await decideOne(open('new-0', 'NEW0USDT'), { GOV_MAX_OPEN_POSITIONS: '1', GOV_MAX_TOTAL_NOTIONAL_USDT: '2000' }, 0);
    expect(event).toMatchObject({ event: 'block', open_positions: '1' });
  });
});
