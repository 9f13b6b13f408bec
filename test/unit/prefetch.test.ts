import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { executeBatch } from '../../runtime/engine/execute.js';
import { PrefetchedReads } from '../../runtime/engine/prefetch.js';
import { FakeRedisReader } from '../support/fake-redis-reader.js';
import { stubDecisionEnv } from '../support/execution-env.js';

/**
 * A reader over `strings` that notes each read it is asked for, in order, as `method key`, and in
 * `waves` how many of its replies had come back when each was asked (equal: sent together).
 */
function notingReader(strings: Record<string, string>, refused: readonly string[] = []) {
  const asked: string[] = [];
  const waves: number[] = [];
  let replied = 0;
  const fake = new FakeRedisReader({ strings });
  const reader = new Proxy(fake, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        asked.push(`${String(property)} ${String(args[0])}`);
        waves.push(replied);
        const reply = refused.includes(String(args[0]))
          ? Promise.reject(new Error(`WRONGTYPE ${String(args[0])}`))
          : (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        return reply.finally(() => (replied += 1));
      };
    },
  }) as RedisReader;
  return { reader, asked, waves };
}

describe('reads named ahead (OwnKeys.reads)', () => {
  it('answers each named read once with its reply, its refusal as the read would have, and sends anything else as asked', async () => {
    const { reader, asked } = notingReader({ a: '1', b: '2' }, ['bad']);
    const ahead = new PrefetchedReads(reader, [
      ['GET', 'a'],
      ['GET', 'bad'],
      ['HMGET', 'h', 'x', 'y'],
      ['EXISTS', 'b'],
    ]);
    expect(asked).toEqual(['get a', 'get bad', 'hmget h', 'exists b']);
    const ctx = ahead.reader(reader);
    expect(await ctx.get('a')).toBe('1');
    await expect(ctx.get('bad')).rejects.toThrow('WRONGTYPE bad');
    expect(await ctx.hmget('h', 'x', 'y')).toEqual([null, null]);
    expect(await ctx.exists('b')).toBe(1);
    // Nothing of that went to the reader again.
    expect(asked).toHaveLength(4);
    // A second identical read, another argument list, an unnamed command: read now, as before.
    expect(await ctx.get('a')).toBe('1');
    expect(await ctx.hmget('h', 'x')).toEqual([null]);
    expect(await ctx.get('b')).toBe('2');
    expect(asked.slice(4)).toEqual(['get a', 'hmget h', 'get b']);
  });

  it('sends a gate’s named reads and its idempotency keys’ with its batch state’s, and its handle reads them from there', async () => {
    const { reader, asked, waves } = notingReader({ 'sym:v': '7', state: 's' });
    const seen: string[] = [];
    const handler: AnyHandler = defineHandler({
      name: 'ahead',
      description: 'test',
      trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
      input: z.looseObject({ n: z.string() }),
      config: () => ({}),
      metrics: () => ({}),
      failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
      batch: { loadState: async (redis) => redis.get('state'), commitEach: true },
      own: { reads: (message) => [['GET', `${message.n}:v`]] },
      idempotency: { keys: (message) => [`done:${message.n}`], onDuplicate: () => undefined },
      handle: async (message, ctx) => {
        seen.push(`${String(ctx.state)} ${String(await ctx.redis.get(`${message.n}:v`))}`);
      },
    });
    const delivery = new Delivery({ id: '1-0', raw: { n: 'sym' }, producedAt: 1 }, { n: 'sym' }, 1, '1-0');
    delivery.message = { n: 'sym' };
    await executeBatch(handler, stubDecisionEnv(reader), [delivery], () => undefined);
    expect(seen).toEqual(['s 7']);
    // Every read asked for before any reply came back (one round trip): the state's, the idempotency key's, the named one; none again.
    expect(asked).toEqual(['get state', 'exists done:sym', 'get sym:v']);
    expect(waves).toEqual([0, 0, 0]);
    expect(delivery.outcome.kind).toBe('handled');
  });
});
