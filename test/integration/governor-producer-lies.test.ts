import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { keys, streams } from '../../schemas/keys.js';
import { parseGovernorConfig } from '../../handlers/governor/config.js';
import { bookPositionSource } from '../../handlers/governor/positions.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { balanceTrackerSnapshot, p33NewestHash, p33SeedHash, tickerHash } from '../support/book-producers.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { governorDecided, pendingCount, produce, startRuntime, waitFor } from '../support/runtime.js';

/**
 * Issue #49 items 4 and 6: a key the book cannot read is its symbol's problem only, and no
 * producer's sign slip turns a long into a short. The book is read as the governor reads it
 * (bookPositionSource.load), against a real redis-server.
 */

const config = parseGovernorConfig({});

// A plain client: every read sent (the key watch's kept replies answer the same: position-book-script.test.ts).
const paths = [['plain reads', (c: Redis) => c as unknown as RedisReader]] as const;

describe('the governor’s book: unreadable keys and signs (issue #49)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const nowSec = () => Date.now() / 1000;

  /** Four P3.3 positions of 1.5 at 100 (the newest layout, position_state_brain/main.py at de25f13cb). */
  async function heldBook(symbols: readonly string[]): Promise<void> {
    for (const s of symbols) {
      await redis.client.hset(keys.p33StatePositions(s), p33NewestHash(s, 1.5, 100, nowSec()));
      await redis.client.sadd(keys.p33PositionIndex, s);
    }
  }

  for (const [name, reader] of paths) {
    it(`${name}: a ticker, a P3.3 hash and a view row of another type are their symbol's problem only`, async () => {
      await heldBook(['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT']);
      await redis.client.set(keys.ticker('AUSDT'), 'not a hash');
      await redis.client.del(keys.p33StatePositions('BUSDT'));
      await redis.client.set(keys.p33StatePositions('BUSDT'), 'not a hash');
      await redis.client.rpush(keys.position('EUSDT'), 'not a hash');
      await redis.client.sadd(keys.activePositions, 'EUSDT');
      const positions = await bookPositionSource.load(reader(redis.client), Date.now(), config);
      expect(positions.map((p) => [p.symbol, p.notionalUsd, p.unpriced ?? false])).toEqual([
        // The ticker unreadable: a refused quote, so P3.3's own mark is no longer cross-checked: of
        // unknown size for opens (issue #70: a refusal never raises trust in what remains).
        ['AUSDT', 0, true],
        // Its position key unreadable: a position of unknown size (opens blocked, it names it).
        ['BUSDT', 0, true],
        ['CUSDT', 150, false],
        ['DUSDT', 150, false],
        ['EUSDT', 0, true],
      ]);
    });

    it(`${name}: a balance-tracker SHORT without a price is short; a P3.3 mark below 0 makes no short of a long`, async () => {
      // balance_tracker.py at 73fab1f55 writes position_qty |amt| and side SHORT, mark "0.0" without an entry price.
      await produce(redis.client, streams.positionSnapshot, [balanceTrackerSnapshot('SHORTUSDT', -1.5, 0, nowSec())]);
      // A P3.3 hash of a long whose mark_price reads -100 (the seeds' layout, position_state_brain/main.py at 8f5055c52, lines 211-223).
      await redis.client.hset(keys.p33PositionSnapshot('LONGUSDT'), p33SeedHash(1.5, -100, nowSec()));
      await redis.client.sadd(keys.p33PositionIndex, 'LONGUSDT');
      await redis.client.hset(keys.ticker('LONGUSDT'), tickerHash('LONGUSDT', 100, Date.now()));
      const positions = await bookPositionSource.load(reader(redis.client), Date.now(), config);
      expect(positions.map((p) => [p.symbol, p.qty, p.notionalUsd])).toEqual([
        ['LONGUSDT', 1.5, 150],
        ['SHORTUSDT', -1.5, 0],
      ]);
    });
  }

  it('the index lists only hashes: a string under a P3.3 prefix is no position, and blocks no close', async () => {
    await heldBook(['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT']);
    await redis.client.srem(keys.p33PositionIndex, 'AUSDT', 'BUSDT', 'CUSDT', 'DUSDT');
    await redis.client.set(keys.p33StatePositions('STRAYUSDT'), 'not a hash');
    await redis.client.set(keys.ticker('AUSDT'), 'not a hash');
    runtime = await startRuntime(redis.url, {
      HANDLERS: 'governor,position-index',
      POSITION_INDEX_REFRESH_SEC: '1',
      GOV_SYMBOL_COOLDOWN_SECONDS: '0',
    });
    // The sweep's one step covers this keyspace: the round that found the four hashes met the stray key too.
    await waitFor(async () => (await redis.client.scard(keys.p33PositionIndex)) >= 4, { what: 'the sweep indexed the four hashes' });
    expect(await redis.client.sismember(keys.p33PositionIndex, 'STRAYUSDT')).toBe(0);
    const closes = ['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT'].map((symbol, i) => ({
      plan_id: `close-${i}`,
      symbol,
      action: 'FULL_CLOSE_PROPOSED',
      decision: 'EXECUTE',
      kill_score: '0.1',
      timestamp: String(nowSec()),
    }));
    await produce(redis.client, streams.applyPlan, closes);
    const decided = await governorDecided(redis.client, closes.length);
    expect(decided.map((e) => [e.plan_id, e.event, e.reason]).sort()).toEqual(closes.map((c) => [c.plan_id, 'permit', 'close_bypass']));
    expect(await pendingCount(redis.client, streams.applyPlan, 'governor')).toBe(0);
  });
});
