import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, governorDecided, governorDecisions, produce, readyAt, waitFor } from '../support/runtime.js';

/**
 * Issue #71 item 4: a credential change under the running gates (a password set on their Redis,
 * every connection dropped) is Redis's state: the plan that arrives meanwhile is held, /ready is
 * 503 naming NOAUTH, and once the password is the gates' again the plan is decided once.
 */
describe('a password set under the running gates: held, /ready names NOAUTH, decided once it is undone', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('requirepass set and the connections dropped: /ready 503 naming NOAUTH, nothing decided; unset: the open permitted once', async () => {
    await redis.client.hset(keys.marketState('AUSDT'), 'mark_price', '100', 'ts', String(Date.now() / 1000));
    runtime = await createTestRuntime(redis.url, { HANDLERS: 'governor', GOV_SYMBOL_COOLDOWN_SECONDS: '0', COMMIT_BACKOFF_MAX_MS: '200' });
    const base = String(await runtime.start());
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 at start' });

    await redis.client.config('SET', 'requirepass', 'rotated-secret');
    try {
      // Every client but this one (which authenticated before and stays so): the gates reconnect without the password.
      const own = String(await redis.client.client('ID'));
      const clients = String(await redis.client.client('LIST'))
        .split('\n')
        .flatMap((line) => /\bid=(\d+)/.exec(line)?.[1] ?? []);
      for (const id of clients) if (id !== own) await redis.client.client('KILL', 'ID', id).catch(() => undefined);
      await produce(redis.client, streams.applyPlan, [
        {
          plan_id: 'while-noauth',
          symbol: 'AUSDT',
          action: 'OPEN_LONG',
          decision: 'EXECUTE',
          kill_score: '0.1',
          side: 'BUY',
          qty: '1',
          price: '100',
          timestamp: String(Date.now() / 1000),
        },
      ]);
      const named = await waitFor(
        async () => {
          const answer = await readyAt(base);
          return answer.status === 503 && /NOAUTH/.test(answer.body) && answer.body;
        },
        { what: '/ready 503 naming NOAUTH' },
      );
      console.info(`/ready with the password changed: ${named}`);
      expect(await governorDecisions(redis.client)).toEqual([]);
    } finally {
      await redis.client.config('SET', 'requirepass', '');
    }
    const [decision, ...more] = await governorDecided(redis.client, 1);
    expect(`${decision!.plan_id} ${decision!.event} ${decision!.reason}`).toBe('while-noauth permit all_gates_passed');
    expect(more).toEqual([]);
    expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 once the password is the gates’ again' });
  }, 60_000);
});
