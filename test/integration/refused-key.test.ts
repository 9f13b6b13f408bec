import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, governorDecided, metricSum, pendingCount, produce, readStream, readyAt, waitFor } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

/**
 * Issue #49 item 3: a key the governor writes holds another type (the P3.3 watch a string), and will
 * until a person deletes it. The stream must move: the closes are decided as ever and /ready says
 * which key until it is fixed. Since issue #69 every read of the book reads that watch too, so the
 * opens are blocked `positions_unreadable` at their read (a listing of the book refused), before any
 * write could be refused; the governor's failure policy for a commit refused every time is
 * governor.test.ts's "fails closed".
 */

/** An open or a close as upstream's publish_plan writes it (microservices/apply_layer/main.py at 8f5055c52, lines 673-690). */
const plan = (planId: string, symbol: string, action: 'OPEN_LONG' | 'FULL_CLOSE_PROPOSED') => ({
  plan_id: planId,
  symbol,
  action,
  decision: 'EXECUTE',
  kill_score: '0.1',
  ...(action === 'OPEN_LONG' ? { side: 'BUY', qty: '1', price: '100' } : {}),
  timestamp: String(Date.now() / 1000),
});

describe('a write Redis refuses the same way every time (WRONGTYPE on a key the governor writes)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('opens are blocked positions_unreadable, closes pass, /ready names the key until it is fixed', async () => {
    await redis.client.set(keys.p33Watch, 'not a sorted set');
    const symbols = ['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT'];
    for (const s of symbols) await redis.client.hset(keys.marketState(s), 'mark_price', '100');
    runtime = await createTestRuntime(redis.url, {
      HANDLERS: 'governor',
      GOV_SYMBOL_COOLDOWN_SECONDS: '0',
      GOV_ENABLE_AUTO_DISARM: 'false',
      COMMIT_BACKOFF_MAX_MS: '200',
    });
    const base = String(await runtime.start());
    const ready = () => readyAt(base);
    const plans = symbols.flatMap((s, i) => [plan(`open-${i}`, s, 'OPEN_LONG'), plan(`close-${i}`, s, 'FULL_CLOSE_PROPOSED')]);
    await produce(redis.client, streams.applyPlan, plans);
    const decided = await governorDecided(redis.client, plans.length);
    // Each acknowledged in the commit that wrote its decision.
    expect(await pendingCount(redis.client, streams.applyPlan, 'governor')).toBe(0);
    const verdicts = Object.fromEntries(decided.map((e) => [e.plan_id, `${e.event} ${e.reason}`]));
    console.info(`p33_watch a string, 4 opens and 4 closes: ${JSON.stringify(verdicts)}`);
    for (let i = 0; i < symbols.length; i++) {
      expect(verdicts[`open-${i}`]).toBe('block positions_unreadable');
      expect(verdicts[`close-${i}`]).toBe('permit close_bypass');
    }
    expect(decided.find((e) => e.plan_id === 'open-0')!.unreadable_listings).toContain(keys.p33Watch);
    expect(await ready()).toMatchObject({ status: 503, body: expect.stringContaining(keys.p33Watch) as unknown });

    await redis.client.del(keys.p33Watch);
    await waitFor(async () => (await ready()).status === 200, { what: '/ready 200 once the key is fixed' });
  }, 60_000);

  it('heat gate in enforce mode, one symbol’s proposal hash a list: that proposal held until the key is fixed, then all twenty-one calibrated, none dead-lettered', async () => {
    await redis.client.rpush(keys.harvestProposal('BADUSDT'), 'not a hash');
    runtime = await createTestRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce', COMMIT_BACKOFF_MAX_MS: '200' });
    await runtime.start();
    const symbols = ['BADUSDT', ...Array.from({ length: 20 }, (_, i) => `OK${i}USDT`)];
    // The exit brain's proposal entry (seeds/001: plan_id, symbol, action).
    await produce(
      redis.client,
      streams.harvestProposal,
      symbols.map((symbol, i) => ({ plan_id: `h${i}`, symbol, action: 'FULL_CLOSE' })),
    );
    await waitFor(async () => (await metricSum(runtime!, 'quantum_gates_commit_failures_total', { cause: 'wrongtype' })) >= 3, {
      what: 'the proposal’s write refused three times',
    });
    expect(await pendingCount(redis.client, streams.harvestProposal, 'p26_heat_gate')).toBeGreaterThan(0);
    await redis.client.del(keys.harvestProposal('BADUSDT'));
    await untilStreamLength(redis.client, streams.harvestCalibrated, symbols.length, { what: 'all twenty-one calibrated' });
    await waitFor(async () => (await pendingCount(redis.client, streams.harvestProposal, 'p26_heat_gate')) === 0, {
      what: 'nothing pending',
    });
    const calibrated = await readStream(redis.client, streams.harvestCalibrated);
    expect(calibrated.map((e) => e.symbol).sort()).toEqual([...symbols].sort());
    expect(await redis.client.exists('quantum:stream:dlq')).toBe(0);
  }, 60_000);
});
