import { describe, expect, it } from 'vitest';
import { usePrivateRedis } from '../support/redis-server.js';
import { untilKeys, untilStream, untilStreamLength } from '../support/until.js';

describe('waits that wake on what they wait for', () => {
  const redis = usePrivateRedis();

  it('untilStreamLength returns once the stream holds the entries, written before and after it began', async () => {
    await redis.client.xadd('s', '*', 'n', '1');
    const waiting = untilStreamLength(redis.client, 's', 3);
    await redis.client.xadd('s', '*', 'n', '2');
    await redis.client.xadd('s', '*', 'n', '3');
    expect((await waiting).map((e) => e.n)).toEqual(['1', '2', '3']);
  });

  it('untilStream names what it waited for when the bound passes', async () => {
    await expect(untilStream(redis.client, 'empty', () => false, { timeoutMs: 50, what: 'nothing' })).rejects.toThrow(
      /waiting for nothing \(0 entries\)/,
    );
  });

  it('untilStream bounds a wait without a new entry, not one still growing', async () => {
    const waiting = untilStreamLength(redis.client, 'growing', 3, { timeoutMs: 1_500 });
    // Three entries 800 ms apart: 2.4 s in all, past the bound, never 1.5 s without one.
    for (let n = 1; n <= 3; n++) {
      await new Promise((resolve) => setTimeout(resolve, 800));
      await redis.client.xadd('growing', '*', 'n', String(n));
    }
    expect((await waiting).map((e) => e.n)).toEqual(['1', '2', '3']);
  });

  it('untilKeys asks again on each change of a key', async () => {
    const waiting = untilKeys(redis.client, ['k'], async () => (await redis.client.get('k')) === '2' && 'seen');
    await redis.client.set('k', '1');
    await redis.client.set('k', '2');
    expect(await waiting).toBe('seen');
  });
});
