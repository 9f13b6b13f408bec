import { beforeAll, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream } from '../support/runtime.js';
import { runCli, runCliJson } from './cli-harness.js';

/** Issue #70: an operator forgets a held position of unknown size, recorded who and why. */
describe('quantum-gates positions clear and held', () => {
  const redis = usePrivateRedis();
  let env: Record<string, string>;
  beforeAll(() => {
    env = { REDIS_URL: redis.url };
  });

  // As the governor writes the memory (handlers/positions/memory.ts encodeHeld).
  const long = JSON.stringify({ by: ['quantum:state:positions:'], at: 1_800_000_000_000, silent: ['quantum:state:positions:'] });
  const short = JSON.stringify({ by: ['snapshot'], at: 1_800_000_000_000 });

  it('clears one leg, records who and why on the governor events stream, and leaves the other leg', async () => {
    await redis.client.hset(keys.positionsHeld, { 'BTCUSDT:LONG': long, 'BTCUSDT:SHORT': short });
    const cleared = await runCli(['positions', 'clear', 'BTCUSDT:LONG', '--by', 'alice', '--why', 'closed on the exchange, checked'], env);
    expect(cleared.code).toBe(0);
    expect(cleared.stdout).toContain('cleared BTCUSDT:LONG');
    expect(await redis.client.hgetall(keys.positionsHeld)).toEqual({ 'BTCUSDT:LONG': '', 'BTCUSDT:SHORT': short });
    const events = await readStream(redis.client, streams.governorEvents);
    expect(events.at(-1)).toMatchObject({
      event: 'positions_clear',
      actor: 'alice',
      reason: 'closed on the exchange, checked',
      previous: JSON.stringify({ 'BTCUSDT:LONG': long }),
    });
    expect(await runCliJson(['positions', 'held'], env)).toEqual({ key: keys.positionsHeld, held: { 'BTCUSDT:SHORT': short } });
  });

  it('without a side clears both legs; nothing remembered is nothing to clear', async () => {
    await redis.client.hset(keys.positionsHeld, { 'ETHUSDT:LONG': short, 'ETHUSDT:SHORT': short });
    expect(await runCliJson(['positions', 'clear', 'ETHUSDT', '--by', 'bob', '--why', 'flat on Binance'], env)).toMatchObject({
      cleared: ['ETHUSDT:LONG', 'ETHUSDT:SHORT'],
    });
    expect(await runCliJson(['positions', 'clear', 'ETHUSDT', '--by', 'bob', '--why', 'again'], env)).toMatchObject({ cleared: [] });
  });

  it('refuses without --by or --why, or with a side that is no leg', async () => {
    for (const args of [
      ['positions', 'clear', 'BTCUSDT', '--why', 'x'],
      ['positions', 'clear', 'BTCUSDT', '--by', 'alice'],
      ['positions', 'clear', 'BTCUSDT:BOTH', '--by', 'alice', '--why', 'x'],
    ]) {
      const result = await runCli(args, env);
      expect(result.code, args.join(' ')).not.toBe(0);
    }
  });
});
