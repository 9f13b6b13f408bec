import { afterEach, describe, expect, it } from 'vitest';
import { preflightRedis, RedisWiringError } from '../../app/redis-preflight.js';
import { httpPlugins } from '../../app/http-plugins.js';
import { allHandlers } from '../../handlers/index.js';
import { parseRuntimeConfig } from '../../runtime/host/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, metricSum, readyAt, startRuntime, waitFor } from '../support/runtime.js';
import { untilKeys, untilStream } from '../support/until.js';

/**
 * Issue #49 item 5: a Redis that may evict keys drops the governor's reservations when another
 * writer fills its memory (measured: maxmemory 40mb, volatile-ttl, 1,762 keys evicted with the
 * reservations among them, 11 positions for a cap of 10). The gates refuse it at start, and hold
 * /ready at 503 when its policy is changed to an evicting one while they run.
 */
describe('an evicting Redis is refused (maxmemory-policy)', () => {
  const redis = usePrivateRedis({ extraArgs: ['--maxmemory-policy', 'volatile-ttl'] });
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await redis.client.config('SET', 'maxmemory-policy', 'volatile-ttl');
  });

  it('start: volatile-ttl stops the start naming the setting; noeviction starts', async () => {
    const config = parseRuntimeConfig({ REDIS_URL: redis.url });
    const refused = await preflightRedis(config, 2000, ['governor']).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RedisWiringError);
    expect(String((refused as Error).message)).toMatch(/^maxmemory-policy: .*maxmemory-policy volatile-ttl.*noeviction/);
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
    expect(await preflightRedis(config, 2000, ['governor'])).toBeUndefined();
  });

  it('start: CONFIG GET refused (an ACL without it) is a warning naming why, not a refusal', async () => {
    await redis.client.call('ACL', 'SETUSER', 'gates', 'on', '>secret', '~*', '&*', '+@all', '-config');
    const url = new URL(redis.url);
    const config = parseRuntimeConfig({ REDIS_URL: `redis://gates:secret@${url.host}/0` });
    const warning = await preflightRedis(config, 2000, ['governor']);
    expect(warning).toMatch(/maxmemory-policy .* not checked \(CONFIG GET refused: NOPERM.*\); the gates need noeviction/);
    expect(warning).not.toContain('secret');
    await redis.client.call('ACL', 'DELUSER', 'gates');
  });

  it('status probe: /ready is 503 naming the policy while Redis may evict, 200 once it is noeviction', async () => {
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
    runtime = await createTestRuntime(redis.url, { HANDLERS: 'governor' });
    const base = String(await runtime.start());
    const ready = () => readyAt(base);
    await waitFor(async () => (await ready()).status === 200, { what: '/ready 200 on noeviction' });
    await redis.client.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const refused = await waitFor(async () => {
      const answer = await ready();
      return answer.status === 503 ? answer : undefined;
    });
    expect(refused.body).toContain('maxmemory-policy is allkeys-lru');
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
    await waitFor(async () => (await ready()).status === 200, { what: '/ready 200 again' });
  });
});

/**
 * Issue #59, measured case 4 (6d8b18a): `CONFIG SET maxmemory-policy volatile-ttl` after the gates
 * started turned /ready 503, and the governor kept permitting; under memory pressure Redis evicted
 * 3,287 keys, the reservations among them (11 positions for a cap of 10), and a plan sent again
 * after its permitted-marker was evicted got a second permit. Now every decision reads the policy
 * with its own state: while it is not noeviction every open is blocked `redis_may_evict` and every
 * close passes, from the first plan sent after CONFIG SET returned.
 */
describe('an evicting policy set while the gates run blocks opens, not closes (issue #59 case 4)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
  });

  const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT'];

  async function submit(planId: string, symbol: string, action: string): Promise<void> {
    const side = action.startsWith('OPEN') ? 'BUY' : 'SELL';
    await redis.client.xadd(
      streams.applyPlan,
      '*',
      ...Object.entries({
        plan_id: planId,
        symbol,
        action,
        side,
        decision: 'EXECUTE',
        qty: '0.001',
        price: '100',
        kill_score: '0.1',
      }).flat(),
    );
  }

  function decision(planId: string): Promise<Record<string, string>> {
    return untilStream(
      redis.client,
      streams.governorEvents,
      (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
      {
        what: `the decision of ${planId}`,
      },
    );
  }

  async function status(): Promise<{ disarm: { redis_may_evict?: string }; headline: { reasons: { state: string; text: string }[] } }> {
    const response = await runtime!.server.inject({ url: '/status', remoteAddress: '127.0.0.1' });
    expect(response.statusCode).toBe(200);
    return response.json();
  }

  for (const policy of ['volatile-ttl', 'allkeys-lru']) {
    it(`${policy} after start: every open blocked redis_may_evict from the next plan, closes permitted, status says why; noeviction again permits opens`, async () => {
      for (const symbol of SYMBOLS) await redis.client.hset(keys.marketState(symbol), 'mark_price', '100');
      runtime = await startRuntime(redis.url, { HANDLERS: 'governor', GOV_SYMBOL_COOLDOWN_SECONDS: '0' }, allHandlers, { httpPlugins });
      await submit('before', 'BTCUSDT', 'OPEN_LONG');
      expect(await decision('before')).toMatchObject({ event: 'permit', reason: 'all_gates_passed' });

      // No wait for the health probe: the first plan after CONFIG SET returned is already blocked.
      await redis.client.config('SET', 'maxmemory-policy', policy);
      for (const [i, symbol] of SYMBOLS.entries()) {
        await submit(`open-${i}`, symbol, 'OPEN_LONG');
        await submit(`close-${i}`, symbol, ['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50', 'PARTIAL_25'][i]!);
      }
      for (const i of SYMBOLS.keys()) {
        expect(await decision(`open-${i}`)).toMatchObject({ event: 'block', reason: 'redis_may_evict' });
        expect(await decision(`close-${i}`)).toMatchObject({ event: 'permit', reason: 'close_bypass' });
        expect(await redis.client.exists(keys.permit(`open-${i}`))).toBe(0);
      }
      expect(await metricSum(runtime, 'quantum_govern_block_total', { reason: 'redis_may_evict' })).toBe(SYMBOLS.length);
      expect(await metricSum(runtime, 'quantum_govern_errors_total')).toBe(0);
      const evicting = await status();
      expect(evicting.disarm.redis_may_evict).toBe(policy);
      expect(evicting.headline.reasons).toContainEqual(
        expect.objectContaining({ state: 'BLOCKING', text: expect.stringContaining(`Redis may evict keys (maxmemory-policy ${policy})`) }),
      );

      await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
      await submit('after', 'ETHUSDT', 'OPEN_LONG');
      expect(await decision('after')).toMatchObject({ event: 'permit', reason: 'all_gates_passed' });
      expect((await status()).disarm.redis_may_evict).toBeUndefined();
      // The governor reads the policy with each plan; /ready and the headline's Redis line follow the
      // health probe (CI on e572cda read the status before its next round). Each round writes its
      // health key before it reads the policy, and rounds never overlap: by a second write after the
      // CONFIG SET, a round that read noeviction has ended. Woken by those writes, not by a timer.
      await untilKeys(redis.client, [`quantum:gates:health:${runtime.config.CONSUMER_NAME}`], async () => {
        return !(await status()).headline.reasons.some((r) => r.text.includes('may evict'));
      });
    });
  }
});
