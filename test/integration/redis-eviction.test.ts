import { afterEach, describe, expect, it } from 'vitest';
import { preflightRedis, RedisWiringError } from '../../app/redis-preflight.js';
import { parseRuntimeConfig } from '../../runtime/host/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, readyAt, waitFor } from '../support/runtime.js';

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
    const refused = await preflightRedis(config, 2000).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RedisWiringError);
    expect(String((refused as Error).message)).toMatch(/^maxmemory-policy: .*maxmemory-policy volatile-ttl.*noeviction/);
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
    expect(await preflightRedis(config, 2000)).toBeUndefined();
  });

  it('start: CONFIG GET refused (an ACL without it) is a warning naming why, not a refusal', async () => {
    await redis.client.call('ACL', 'SETUSER', 'gates', 'on', '>secret', '~*', '&*', '+@all', '-config');
    const url = new URL(redis.url);
    const config = parseRuntimeConfig({ REDIS_URL: `redis://gates:secret@${url.host}/0` });
    const warning = await preflightRedis(config, 2000);
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
