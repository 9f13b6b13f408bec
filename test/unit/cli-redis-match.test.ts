import { describe, expect, it } from 'vitest';
import { redisMismatch, type OwnRedis } from '../../cli/redis-match.js';

const instance = { name: 'gates-a', hostname: 'host-1', port: 8080 };
const own: OwnRedis = { address: 'redis://10.0.0.5:6379/0', namedBy: 'settings from the environment', id: 'run_id:aaa' };

describe('status: is the instance on the Redis the command was told to use', () => {
  it('compares identities where both are known: one server reached by two addresses is the same one', () => {
    expect(redisMismatch(own, { ...instance, redis: 'redis://gates-redis:6379/0', redis_id: 'run_id:aaa' })).toBeUndefined();
    expect(redisMismatch(own, { ...instance, redis: 'redis://10.0.0.5:6379/0', redis_id: 'run_id:bbb' })).toBe(
      'it runs on Redis redis://10.0.0.5:6379/0 (run_id:bbb), not on redis://10.0.0.5:6379/0 (settings from the environment, run_id:aaa)',
    );
  });

  it('falls back to the configured addresses when the instance could not read its Redis', () => {
    expect(redisMismatch(own, { ...instance, redis: 'redis://10.0.0.5:6379/0', redis_id: null })).toBeUndefined();
    expect(redisMismatch(own, { ...instance, redis: 'redis://10.0.0.6:6379/0', redis_id: null })).toBe(
      'it runs on Redis redis://10.0.0.6:6379/0, not on redis://10.0.0.5:6379/0 (settings from the environment, run_id:aaa)',
    );
  });

  it('says the named Redis does not answer when the addresses differ too', () => {
    const down: OwnRedis = {
      address: 'redis://127.0.0.1:1/0',
      namedBy: 'settings from the environment',
      id: null,
      error: 'REDIS_URL: cannot reach Redis',
    };
    expect(redisMismatch(down, { ...instance, redis: 'redis://127.0.0.1:6379/0', redis_id: 'run_id:ccc' })).toBe(
      'it runs on Redis redis://127.0.0.1:6379/0 (run_id:ccc), not on redis://127.0.0.1:1/0 (settings from the environment), which does not answer: REDIS_URL: cannot reach Redis',
    );
    // Same address, Redis down for both: the right deployment in an outage, its status shown.
    expect(redisMismatch(down, { ...instance, redis: 'redis://127.0.0.1:1/0', redis_id: null })).toBeUndefined();
  });

  it('leaves an instance that does not say which Redis it runs on (an older build) uncompared', () => {
    expect(redisMismatch(own, instance)).toBeUndefined();
    expect(redisMismatch(own, null)).toBeUndefined();
  });
});
