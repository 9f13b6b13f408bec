import fc from 'fast-check';
import { Cluster, Command, type Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisReader } from '../../runtime/contract/index.js';
import { scriptSha } from '../../runtime/contract/script-by-hash.js';
import { ScriptReadCommand, withFlatReadScripts } from '../../runtime/sources/flat-read-scripts.js';
import { usePrivateRedis } from '../support/redis-server.js';

/** Settles a call into what a caller sees: its reply, or its error's class and message. */
const settled = (call: Promise<unknown>) =>
  call.then(
    (reply) => ({ reply }),
    (error: unknown) => ({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }),
  );

/** A script whose reply holds every kind of value: strings, numbers, nil, nested arrays, an error in its place. */
const MIXED = `
local out = {}
out[1] = redis.pcall('GET', KEYS[1])
out[2] = redis.pcall('GET', KEYS[2])
out[3] = redis.pcall('HMGET', KEYS[3], ARGV[1], ARGV[2])
out[4] = redis.pcall('GET', KEYS[3])
out[5] = redis.pcall('EXISTS', KEYS[1], KEYS[2])
out[6] = ARGV[3]
return out
`;

describe('the handler reader: read scripts without ioredis argument copy (issue #24 item 5)', () => {
  const redis = usePrivateRedis();

  it('writes the bytes ioredis writes for eval_ro and evalsha_ro, numbers included', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'eval_ro' | 'evalsha_ro'>('eval_ro', 'evalsha_ro'),
        fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.integer().map(String)), { maxLength: 40 }),
        (name, args) => {
          const ours = new ScriptReadCommand(name, args).toWritable();
          const theirs = new Command(name, args).toWritable(undefined as never);
          expect(ours.equals(typeof theirs === 'string' ? Buffer.from(theirs, 'utf8') : theirs)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('answers what the client answers: replies, nil, errors inside a reply, NOSCRIPT, a script error', async () => {
    const client = redis.client as Redis;
    await client.set('s:a', 'é1');
    await client.hset('h:b', { x: '1', y: '2' });
    const plain = client as unknown as RedisReader;
    const flat = withFlatReadScripts(client);
    expect(flat).not.toBe(plain);
    const calls = (reader: RedisReader) => [
      reader.eval_ro(MIXED, 3, 's:a', 's:missing', 'h:b', 'x', 'missing', 42),
      reader.evalsha_ro!(scriptSha(MIXED), 3, 's:a', 's:missing', 'h:b', 'x', 'missing', 42),
      reader.evalsha_ro!('0'.repeat(40), 0),
      reader.eval_ro("return redis.call('GET', KEYS[1])", 1, 'h:b'),
      reader.eval_ro("redis.call('SET', KEYS[1], 'x')", 1, 's:a'),
    ];
    await client.script('FLUSH');
    const expected = await Promise.all(calls(plain).map(settled));
    await client.script('FLUSH');
    const got = await Promise.all(calls(flat).map(settled));
    expect(got).toEqual(expected);
    expect(expected[0]).toEqual({ reply: ['é1', null, ['1', null], expect.any(Error), 1, '42'] });
    expect(expected[2]).toMatchObject({ error: expect.stringMatching(/NOSCRIPT/) });
    // The reply element that failed is the client's own error, with its message.
    const [inner] = [((got[0] as { reply: unknown[] }).reply[3] as Error).message];
    expect(inner).toMatch(/WRONGTYPE/);
    // Other calls are the client's own.
    expect(await flat.hmget('h:b', 'x', 'y')).toEqual(['1', '2']);
    expect(await flat.get('s:a')).toBe('é1');
  });

  it('leaves a Cluster client as it is (it routes a command by the keys ioredis reads from its arguments)', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    expect(withFlatReadScripts(cluster)).toBe(cluster);
    cluster.disconnect();
  });
});
