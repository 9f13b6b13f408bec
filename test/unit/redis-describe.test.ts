import { describe, expect, it } from 'vitest';
import { parseRuntimeConfig } from '../../runtime/host/config.js';
import { describeRedis } from '../../runtime/host/redis.js';
import { redactSecrets } from '../../runtime/host/redis.js';

const SECRET = 'Sup3r secret/pw';
const ENCODED = encodeURIComponent(SECRET);

describe('describeRedis', () => {
  it('never shows a password, in any place a configuration can hold one', () => {
    const configs: Record<string, string>[] = [
      { REDIS_URL: `redis://:${ENCODED}@10.0.0.5:6380/2` },
      { REDIS_URL: `redis://ops:${ENCODED}@10.0.0.5:6380` },
      { REDIS_URL: `rediss://${ENCODED}@10.0.0.5:6380/0` }, // the colon forgotten: a "user name"
      { REDIS_URL: `redis://10.0.0.5:6380/0?password=${ENCODED}&db=1` },
      { REDIS_URL: `redis://10.0.0.5:6380/0?sentinelPassword=${ENCODED}` },
      { REDIS_SENTINELS: '10.0.0.7:26379,10.0.0.8:26379', REDIS_SENTINEL_NAME: 'qg', REDIS_PASSWORD: SECRET },
      { REDIS_HOST: '10.0.0.5', REDIS_PASSWORD: SECRET, REDIS_DB: '3' },
    ];
    for (const env of configs) {
      const described = describeRedis(parseRuntimeConfig(env));
      expect(described, JSON.stringify(env)).not.toContain(SECRET);
      expect(described, JSON.stringify(env)).not.toContain(ENCODED);
      expect(described).toMatch(/10\.0\.0\.[578]/);
    }
  });

  it('keeps what locates the server: host, port, database, user name beside a password', () => {
    expect(describeRedis(parseRuntimeConfig({ REDIS_URL: `redis://ops:${ENCODED}@10.0.0.5:6380/2?db=2` }))).toBe(
      'redis://ops:***@10.0.0.5:6380/2?db=2',
    );
    expect(describeRedis(parseRuntimeConfig({ REDIS_URL: `redis://${ENCODED}@10.0.0.5:6380` }))).toBe('redis://***@10.0.0.5:6380');
  });
});

describe('redactSecrets', () => {
  it('hides the configured password as given and as decoded from the URL', () => {
    const config = parseRuntimeConfig({ REDIS_URL: `redis://:${ENCODED}@h:1/0`, REDIS_PASSWORD: 'other-pw' });

    expect(redactSecrets(config, `AUTH ${SECRET} / ${ENCODED} / other-pw`)).toBe('AUTH *** / *** / ***');
  });
});
