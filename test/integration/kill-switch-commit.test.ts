import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/run.js';
import type { CliIo } from '../../cli/io.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { produce, readStream, startRuntime, governorDecisions } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

/**
 * Safety switches take effect at commit, not at read: once `quantum-gates kill on` has returned,
 * no permit commits, however many plans the governor was deciding at that moment. Each permit's
 * commit time is read from its event on quantum:stream:governor.events, which Redis stamps inside
 * the permit's own transaction.
 */
describe('the kill switch during a flood of plans', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const io = (env: Record<string, string>): CliIo => ({
    out: () => undefined,
    err: () => undefined,
    errRaw: () => undefined,
    env,
    errIsTty: false,
    now: Date.now,
  });
  const closes = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => ({
      plan_id: `${prefix}${i}`,
      symbol: `S${i % 40}USDT`,
      action: 'FULL_CLOSE_PROPOSED',
      decision: 'EXECUTE',
      side: 'SELL',
    }));

  it('commits no permit after kill on returned: every permit event precedes it, the rest are blocked', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor', GOV_SYMBOL_COOLDOWN_SECONDS: '0', BATCH_SIZE: '100' });
    await produce(redis.client, streams.applyPlan, closes('k', 4000));
    await untilStreamLength(redis.client, streams.governorEvents, 300, { what: 'the flood under way' });

    expect(await runCli(['kill', 'on', '--reason', 'flood test'], io({ REDIS_URL: redis.url }))).toBe(0);
    const returnedAt = Date.now();

    // Every plan's decision, and `kill on`'s own audit event (cli/audit.ts) in the same stream.
    await untilStreamLength(redis.client, streams.governorEvents, 4001, { what: 'every plan decided', timeoutMs: 60_000 });
    const events = await governorDecisions(redis.client);
    const permits = events.filter((e) => e.event === 'permit');
    const killed = events.filter((e) => e.event === 'block' && e.reason === 'kill_switch_active');
    expect(new Set(events.map((e) => e.plan_id)).size).toBe(4000);
    expect(permits.length).toBeGreaterThan(0);
    expect(killed.length).toBeGreaterThan(0); // the switch landed mid-flood
    expect(permits.length + killed.length).toBe(4000);
    const lastPermitAt = Math.max(...permits.map((e) => Number.parseInt(e._id, 10)));
    expect(lastPermitAt).toBeLessThanOrEqual(returnedAt);
    for (const permit of permits) expect(await redis.client.exists(keys.permit(permit.plan_id!))).toBe(1);
  });

  it.each(['yes', 'on', 'ON', '2', '1.0', 'enabled', 'true'])(
    'a kill switch set to %j blocks every plan, as the status says',
    async (value) => {
      await redis.client.set(keys.killSwitch, value);
      runtime = await startRuntime(redis.url, { HANDLERS: 'governor' });
      await produce(redis.client, streams.applyPlan, closes(`v${value}-`, 3));
      await untilStreamLength(redis.client, streams.governorEvents, 3, { what: 'three decisions' });

      const events = await readStream(redis.client, streams.governorEvents);
      expect(events.map((e) => e.reason)).toEqual(['kill_switch_active', 'kill_switch_active', 'kill_switch_active']);
      const out: string[] = [];
      const statusIo = { ...io({ REDIS_URL: redis.url }), out: (text: string) => out.push(text) };
      expect(await runCli(['kill', 'status'], statusIo)).toBe(0);
      expect(out.join('')).toMatch(/^kill switch ON/);
    },
  );
});
