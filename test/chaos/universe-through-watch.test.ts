import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { volRegimeOf } from '../../handlers/risk-budget/vol-regime.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys } from '../../schemas/keys.js';
import { pyFloatStr } from '../../schemas/python-number.js';
import { p33NewestHash } from '../support/book-producers.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, startRuntime, waitFor } from '../support/runtime.js';

const nowSec = () => Math.floor(Date.now() / 1000);
const SYMBOLS = Array.from({ length: 200 }, (_, i) => `U${i}USDT`);
const REGIMES = ['LOW_VOL', 'NORMAL_VOL', 'HIGH_VOL', 'EXTREME_VOL'];
/** The writes and kills go on this long: several refreshes and ticks at 1 s each. */
const CHAOS_MS = 5_000;

/**
 * The position index refresh and the budget tick read P3.3's universe through the key watch's kept
 * replies (1.11.1). Here the watch's subscriber connection is killed every 150 ms while P3.3's hashes
 * come and go and the market states change under both: a reply kept across a write the watch missed
 * would leave the index or a budget on what was. Once the writes and kills stop, the index must list
 * exactly the symbols with a hash, and the budget of each of those be of its symbol's last market state.
 */
describe('the key watch killed while the index and the budget read the universe through it (chaos)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('leaves the index exact and each listed symbol’s budget of its last market state', async () => {
    const r = redis.client;
    const hashed = new Set<string>();
    const regime = new Map<string, string>();
    const write = async (symbol: string, present: boolean) => {
      if (present) await r.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, 0, 10, nowSec()));
      else await r.del(keys.p33StatePositions(symbol));
      if (present) hashed.add(symbol);
      else hashed.delete(symbol);
    };
    const setRegime = async (symbol: string, label: string) => {
      await r.hset(keys.marketState(symbol), { vol_regime: label });
      regime.set(symbol, label);
    };
    for (const [i, symbol] of SYMBOLS.entries()) {
      await write(symbol, i % 2 === 0);
      await setRegime(symbol, REGIMES[i % REGIMES.length]!);
    }
    await r.set(keys.universeActive, JSON.stringify({ symbols: SYMBOLS }));
    const equity = () => r.hset(keys.portfolioState, { equity_usd: '100000', timestamp: String(nowSec()) });
    await equity();
    runtime = await startRuntime(redis.url, {
      HANDLERS: 'position-index,risk-budget',
      POSITION_INDEX_REFRESH_SEC: '1',
      POSITION_INDEX_SCAN_STEPS: '0',
      BUDGET_COMPUTE_INTERVAL_SEC: '1',
    });
    const live = () => (runtime!.readiness().checks as Record<string, unknown>)['key_watch:p33-positions'] === 'live';
    await waitFor(() => live() || undefined, { what: 'the key watch live' });

    // A seeded walk, so a failure can be run again as it was.
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const deadline = Date.now() + CHAOS_MS;
    let kills = 0;
    const killing = (async () => {
      while (Date.now() < deadline) {
        await r.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        kills += 1;
        await sleep(150);
      }
    })();
    let writes = 0;
    while (Date.now() < deadline) {
      const symbol = SYMBOLS[next(SYMBOLS.length)]!;
      await write(symbol, !hashed.has(symbol));
      await setRegime(SYMBOLS[next(SYMBOLS.length)]!, REGIMES[next(REGIMES.length)]!);
      writes += 1;
      await sleep(10);
    }
    await killing;
    await equity();
    expect(kills).toBeGreaterThan(10);
    expect(writes).toBeGreaterThan(50);

    // Two refreshes and two ticks that began after the last write, on the watch live again.
    await waitFor(() => live() || undefined, { what: 'the key watch live again', timeoutMs: 15_000 });
    const refreshes = await metricSum(runtime, 'quantum_position_index_refreshes_total');
    const ticks = await metricSum(runtime, 'p28_budget_computed_total');
    await waitFor(
      async () =>
        ((await metricSum(runtime!, 'quantum_position_index_refreshes_total')) >= refreshes + 2 &&
          (await metricSum(runtime!, 'p28_budget_computed_total')) >= ticks + 2 * SYMBOLS.length) ||
        undefined,
      { what: 'two refreshes and two ticks after the writes', timeoutMs: 20_000 },
    );
    expect((await r.smembers(keys.p33PositionIndex)).sort()).toEqual([...hashed].sort());
    // The tick's symbols are the index's (no position held here): each of those has its budget of now.
    const listed = [...hashed].sort();
    const budgets = await Promise.all(listed.map((symbol) => r.hget(keys.budget(symbol), 'vol_regime')));
    expect(budgets).toEqual(listed.map((symbol) => pyFloatStr(volRegimeOf({ vol_regime: regime.get(symbol)! }))));
  });
});
