import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../cli/io.js';
import { cliRedis, defaultRedisNote } from '../../cli/redis.js';
import { isolatedEnv } from '../support/own-dirs.js';

const io = (over: Partial<CliIo>): CliIo => ({
  out: () => undefined,
  err: () => undefined,
  errRaw: () => undefined,
  env: {},
  errIsTty: false,
  now: () => 0,
  ...over,
});

describe('the Redis a command reads, and what named it', () => {
  it('an env file named on purpose that names no Redis (a what-if) names none: the default, with the "nothing named a Redis" line', async () => {
    // A data directory of its own, where no npm start ever ran.
    const env = { ...isolatedEnv(), HEAT_MIN: '0.05' };
    const target = await cliRedis(io({ env, envFile: 'lower-heat.env' }));
    expect(target.namedBy).toBeUndefined();
    expect(defaultRedisNote(target.config)).toContain('nothing named a Redis');
  });

  it("a units' file found by default names the gates' Redis even when it sets no REDIS_* (their default)", async () => {
    const env = { ...isolatedEnv(), P28_MODE: 'enforce' };
    const target = await cliRedis(io({ env, envFile: '/etc/quantum/quantum-gates.env', envFileByDefault: { shellEnv: {} } }));
    expect(target.namedBy).toBe('settings from /etc/quantum/quantum-gates.env');
  });
});
