import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { runCli } from './cli-harness.js';

/**
 * Which Redis the CLI acts on (issue #39, finding 1): a slip of a REDIS_* name is refused with the
 * server's did-you-mean, and nothing is written to a Redis that no variable or env file named.
 */
describe('the Redis the CLI acts on', () => {
  const redis = usePrivateRedis();
  /** No unit env files: the CLI sees only the variables given. */
  let noEnvFiles: Record<string, string>;

  beforeAll(() => {
    noEnvFiles = { QG_ENV_DIR: mkdtempSync(join(tmpdir(), 'qg-no-env-')) };
  });

  it('refuses a REDIS_* slip as the server does, writing nothing anywhere', async () => {
    const result = await runCli(['kill', 'on', '--reason', 'typo test'], { ...noEnvFiles, REDIS_ULR: `${redis.url}/0` });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REDIS_ULR: is not a setting of quantum-gates (did you mean "REDIS_URL"?)');
    expect(result.stderr).not.toContain('writing to Redis');
    expect(await redis.client.exists(keys.killSwitch)).toBe(0);
  });

  it('refuses the slip for a read too, before connecting anywhere', async () => {
    const result = await runCli(['kill', 'status'], { ...noEnvFiles, REDIS_PROT: String(redis.port) });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REDIS_PROT: is not a setting of quantum-gates (did you mean "REDIS_PORT"?)');
  });

  it.each([
    ['kill on', ['kill', 'on', '--reason', 'x']],
    ['inject portfolio', ['inject', 'portfolio', '--equity-usd', '10000']],
    ['disarm clear', ['disarm', 'clear', '--reason', 'x']],
  ])('%s with nothing naming a Redis refuses to write to the default, exit 2', async (_name, args) => {
    const result = await runCli(args, noEnvFiles);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nothing named a Redis to write to');
    expect(result.stderr).toContain('nothing was written');
    expect(result.stderr).not.toContain('writing to Redis');
  });

  it('reads the default when nothing names a Redis, and says so first (REDIS_PORT alone only moves the default)', async () => {
    await redis.client.set(keys.killSwitch, '1');

    const result = await runCli(['kill', 'status'], { ...noEnvFiles, REDIS_PORT: String(redis.port) });

    expect(result.stderr).toContain(`reading Redis redis://127.0.0.1:${redis.port}/0 (default: nothing named a Redis`);
    expect(result.stdout).toContain('ON');
    const write = await runCli(['kill', 'off', '--reason', 'x'], { ...noEnvFiles, REDIS_PORT: String(redis.port) });
    expect(write.code).toBe(2);
    expect(await redis.client.get(keys.killSwitch)).toBe('1');
  });

  it('writes where REDIS_HOST names the Redis', async () => {
    const env = { ...noEnvFiles, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redis.port) };
    const result = await runCli(['inject', 'portfolio', '--equity-usd', '10000'], env);

    expect(result.stderr).toContain(`writing to Redis redis://127.0.0.1:${redis.port}/0 (settings from the environment)`);
    expect(result.code).toBe(0);
    expect(await redis.client.exists(keys.portfolioState)).toBe(1);
  });
});
