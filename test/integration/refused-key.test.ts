import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, governorDecided, metricSum, pendingCount, produce, readStream, readyAt, waitFor } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

/**
 * Issue #49 item 3, as issue #71 item 2 decided it: a key a gate writes holds another type (the
 * P3.3 watch a string, a proposal hash a list), so Redis refuses the commit with WRONGTYPE until a
 * person deletes the key. No decision is given up for it: the messages are held (pending,
 * uncharged), /ready names the key meanwhile, and once it is fixed each is decided exactly once.
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

  it('opens held, /ready naming the key, until it is fixed; then every open permitted and every close passed, each once', async () => {
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
    await waitFor(async () => (await ready()).status === 503 && (await ready()).body.includes(keys.p33Watch), {
      what: '/ready 503 naming the key',
    });
    // Held: no open decided while the key is wrong, and no fail-closed block in its place.
    const during = await readStream(redis.client, streams.governorEvents);
    expect(during.filter((e) => e.plan_id?.startsWith('open-'))).toEqual([]);

    await redis.client.del(keys.p33Watch);
    const decided = await governorDecided(redis.client, plans.length);
    await waitFor(async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0, { what: 'every plan acknowledged' });
    const verdicts = decided.map((e) => `${e.plan_id} ${e.event} ${e.reason}`).sort();
    expect(verdicts).toEqual(symbols.flatMap((_, i) => [`close-${i} permit close_bypass`, `open-${i} permit all_gates_passed`]).sort());
    await waitFor(async () => (await ready()).status === 200, { what: '/ready 200 once the key took a write' });
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
