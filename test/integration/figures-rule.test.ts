import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { balanceTrackerSnapshot, marketStatePublished, p33NewestHash, p33SeedHash, tickerHash } from '../support/book-producers.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { governorDecided, metricSum, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { untilStream } from '../support/until.js';

/**
 * Issue #59, measured cases 1 and 2: one producer's position figure, stamped ahead or smaller than
 * another's, must not size a symbol below what another fresh producer reports (docs/governor.md
 * "Figures"). The book is as the real producers write it: the balance tracker's snapshots
 * (balance_tracker.py at 73fab1f55), P3.3's hashes in both layouts (position_state_brain/main.py at
 * 8f5055c52 and 73fab1f55), the market state publisher's sigma; each test fails on 6d8b18a.
 */

const HELD = Array.from({ length: 10 }, (_, i) => `H${i}USDT`);
const nowSec = () => Date.now() / 1000;

describe('one figure, many producers: the largest fresh figure counts, a figure stamped ahead is none (issue #59)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  const replicas: Runtime[] = [];
  afterEach(async () => {
    await Promise.all([runtime, ...replicas.splice(0)].map((r) => r?.stop()));
    runtime = undefined;
  });

  /** The balance tracker reports each held symbol: 1 unit at 150 ($150 each). */
  async function trackerReports(symbols: readonly string[], qty = 1, mark = 150): Promise<void> {
    await produce(
      redis.client,
      streams.positionSnapshot,
      symbols.map((s) => balanceTrackerSnapshot(s, qty, mark, nowSec())),
    );
    for (const s of symbols) await redis.client.hset(keys.ticker(s), tickerHash(s, mark, Date.now()));
  }

  /** P3.3's newest layout on one symbol, listed in the index as the position-index job lists it. */
  async function ledgerSays(symbol: string, amt: number, mark: number, tsSec: number): Promise<void> {
    await redis.client.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, amt, mark, tsSec));
    await redis.client.sadd(keys.p33PositionIndex, symbol);
  }

  const open = (planId: string, symbol: string) => ({
    plan_id: planId,
    symbol,
    action: 'ENTRY_PROPOSED',
    decision: 'EXECUTE',
    side: 'BUY',
    qty: '1',
    timestamp: String(nowSec()),
  });

  async function startGovernor(): Promise<Runtime> {
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor', GOV_SYMBOL_COOLDOWN_SECONDS: '0' });
    return runtime;
  }

  /** `count` governor replicas on one Redis, as a deployment scales them. */
  async function startReplicas(count: number): Promise<void> {
    for (let i = 0; i < count; i++)
      replicas.push(await startRuntime(redis.url, { HANDLERS: 'governor', GOV_SYMBOL_COOLDOWN_SECONDS: '0' }));
  }

  it('case 1: a P3.3 hash stamped 10 min ahead saying flat does not free a slot; it is counted and the symbol is of unknown size', async () => {
    await trackerReports(HELD);
    await ledgerSays('H0USDT', 0, 150, nowSec() + 600);
    await redis.client.hset(keys.ticker('NEWUSDT'), tickerHash('NEWUSDT', 150, Date.now()));
    const gates = await startGovernor();
    await produce(redis.client, streams.applyPlan, [open('eleventh', 'NEWUSDT')]);
    const [decision] = await governorDecided(redis.client, 1);
    // On 6d8b18a: permit, open_positions 9.
    expect(decision).toMatchObject({ plan_id: 'eleventh', event: 'block', reason: 'max_positions_reached', open_positions: '10' });
    // Metrics are applied once the decision's commit has landed: waited for, not raced.
    await waitFor(async () => (await metricSum(gates, 'quantum_govern_figures_refused_total', { source: 'p33', reason: 'future' })) > 0, {
      what: 'the refused figure counted',
    });
  });

  it('case 2: P3.3 reporting a held position flat a second after the tracker removes nothing: no 11th position', async () => {
    await trackerReports(HELD);
    await ledgerSays('H3USDT', 0, 150, nowSec() + 1);
    await redis.client.hset(keys.ticker('NEWUSDT'), tickerHash('NEWUSDT', 150, Date.now()));
    await startGovernor();
    await produce(redis.client, streams.applyPlan, [open('eleventh', 'NEWUSDT')]);
    const [decision] = await governorDecided(redis.client, 1);
    expect(decision).toMatchObject({ event: 'block', reason: 'max_positions_reached', open_positions: '10' });
  });

  it.each([1, 2, 3])(
    'case 2, %i replicas: P3.3 reporting nine held positions at a tenth of the tracker’s size: the book counts the tracker’s 1,350 USD, one open fits',
    async (count) => {
      const nine = HELD.slice(0, 9);
      await trackerReports(nine);
      // The seed-era layout for some, the newest for the others: both are P3.3's.
      for (const [i, s] of nine.entries()) {
        if (i % 2 === 0) await ledgerSays(s, 0.1, 150, nowSec() + 1);
        else {
          await redis.client.hset(keys.p33PositionSnapshot(s), p33SeedHash(0.1, 150, nowSec() + 1));
          await redis.client.sadd(keys.p33PositionIndex, s);
        }
      }
      const fresh = Array.from({ length: 10 }, (_, i) => `N${i}USDT`);
      for (const s of fresh) await redis.client.hset(keys.ticker(s), tickerHash(s, 150, Date.now()));
      await startReplicas(count);
      await produce(
        redis.client,
        streams.applyPlan,
        fresh.map((s, i) => open(`open-${i}`, s)),
      );
      const decided = await governorDecided(redis.client, fresh.length);
      const permits = decided.filter((d) => d.event === 'permit');
      // On 6d8b18a: 10 of 10 permitted on a book of $135.
      expect(permits).toHaveLength(1);
      expect(permits[0]).toMatchObject({ total_notional: '1350' });
      expect(decided.filter((d) => d.event === 'block').map((d) => d.reason)).toEqual(Array(9).fill('max_positions_reached'));
    },
  );

  describe('heat gate', () => {
    const EQUITY = 10_000;
    // $60,000 at sigma 0.15 on $10,000 of equity: heat 0.9, HOT (HEAT_MAX 0.65): FULL_CLOSE stands.
    async function hotBook(): Promise<void> {
      await redis.client.hset(keys.portfolioState, 'equity_usd', String(EQUITY));
      await produce(redis.client, streams.positionSnapshot, [balanceTrackerSnapshot('BTCUSDT', 1, 60_000, nowSec())]);
      await redis.client.hset(keys.marketStatePublished('BTCUSDT'), marketStatePublished(0.15, nowSec()));
    }
    async function calibrated(planIds: readonly string[]) {
      runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce' });
      await produce(
        redis.client,
        streams.harvestProposal,
        planIds.map((plan_id) => ({ plan_id, symbol: 'BTCUSDT', action: 'FULL_CLOSE' })),
      );
      return untilStream(
        redis.client,
        streams.harvestCalibrated,
        (entries) => {
          const found = planIds.map((id) => entries.find((e) => e.plan_id === id));
          return found.every((e) => e !== undefined) ? found : undefined;
        },
        { what: `calibrations of ${planIds.join(', ')}` },
      );
    }

    it('case 2: a P3.3 mark off by units on a held position leaves the heat HOT: FULL_CLOSE stands', async () => {
      await hotBook();
      await ledgerSays('BTCUSDT', 1, 1, nowSec() + 1);
      const [entry] = await calibrated(['units']);
      // On 6d8b18a: heat 0.00001, COLD, PARTIAL_25.
      expect(entry).toMatchObject({ calibrated_action: 'FULL_CLOSE', heat_bucket: 'HOT', heat_value: '0.9' });
    });

    it('case 1: a P3.3 hash stamped 10 min ahead saying flat: no decision takes heat 0 for true, each names the figure, HOT proven by the rest', async () => {
      await hotBook();
      await ledgerSays('BTCUSDT', 0, 60_000, nowSec() + 600);
      const entries = await calibrated(['a', 'b', 'c']);
      // On 6d8b18a: PARTIAL_25 at heat 0.0, trusted, nothing counted. Now the refused figure is
      // said so, never taken for flat: the figure named in debug_json, the refusal counted; the
      // tracker's $60,000 alone already proves HOT (heat 0.9, a lower bound), so HOT is decided on
      // it (issue #70), naming the cause in heat_lower_bound.
      for (const entry of entries)
        expect(entry).toMatchObject({
          calibrated_action: 'FULL_CLOSE',
          heat_bucket: 'HOT',
          heat_value: '0.9',
          heat_lower_bound: 'position_stamped_ahead',
        });
      expect(entries.every((e) => e.fail_closed_cause === undefined)).toBe(true);
      const decisions = await readStream(redis.client, streams.heatDecision);
      expect(decisions.map((d) => d.debug_json).every((json) => json?.includes('BTCUSDT.stamped_ahead'))).toBe(true);
      await waitFor(
        async () => (await metricSum(runtime!, 'quantum_heat_gate_figures_refused_total', { source: 'p33', reason: 'future' })) === 3,
        { what: 'three refusals counted' },
      );
    });
  });
});
