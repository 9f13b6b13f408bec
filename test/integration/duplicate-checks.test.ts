import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineHandler, type IdempotencyKey, type MessageMeta, type RedisReader } from '../../runtime/contract/index.js';
import { parseEnv } from '../../schemas/env.js';
import { startDuplicateChecks, type DuplicateCheck } from '../../runtime/engine/idempotency.js';
import { usePrivateRedis } from '../support/redis-server.js';

/** A batch's duplicate checks read together (runtime/engine/idempotency.ts), against each read alone. */
describe('startDuplicateChecks on a real redis-server', () => {
  const redis = usePrivateRedis();
  const NOW = 1_800_000_000_000;

  /** A gate whose messages name their keys: `e:<key>` an existence key, `g:<key>` newest wins at the message's id. */
  const gate = defineHandler({
    name: 'checks',
    description: 'test gate',
    trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
    input: z.looseObject({ keys: z.array(z.string()) }),
    config: (env) => parseEnv(z.object({}), env),
    metrics: () => ({}),
    failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
    idempotency: {
      keys: (message, meta): IdempotencyKey[] =>
        message.keys.map((k) => (k.startsWith('g:') ? { key: k.slice(2), id: meta.id } : k.slice(2))),
      onDuplicate: () => undefined,
    },
    handle: async () => undefined,
  });
  const meta = (n: number): MessageMeta => ({ id: `${NOW}-${n}`, raw: {}, producedAt: NOW });

  async function arrange() {
    const r = redis.client;
    await r.set('done', '1');
    await r.hset('done-hash', 'f', 'v');
    await r.set('applied', `${NOW}-5`);
    await r.set('applied-empty', '');
    await r.hset('applied-hash', 'f', 'v'); // GET answers WRONGTYPE
  }

  /** Messages covering every answer: none, done by existence of any type, newest-wins later/equal/earlier/empty, a failing read, a job's done key. */
  const batch: { message: { keys: string[] }; meta: MessageMeta; doneKey: string | undefined }[] = [
    { message: { keys: ['e:absent'] }, meta: meta(1), doneKey: undefined },
    { message: { keys: ['e:absent', 'e:done'] }, meta: meta(2), doneKey: undefined },
    { message: { keys: ['e:done-hash'] }, meta: meta(3), doneKey: undefined },
    { message: { keys: [] }, meta: meta(4), doneKey: undefined },
    { message: { keys: ['g:applied'] }, meta: meta(4), doneKey: undefined },
    { message: { keys: ['g:applied'] }, meta: meta(5), doneKey: undefined },
    { message: { keys: ['g:applied'] }, meta: meta(6), doneKey: undefined },
    { message: { keys: ['g:applied-empty', 'g:absent'] }, meta: meta(7), doneKey: undefined },
    { message: { keys: ['e:absent', 'g:applied-hash'] }, meta: meta(8), doneKey: undefined },
    { message: { keys: [] }, meta: meta(9), doneKey: 'done' },
  ];

  const outcome = (check: DuplicateCheck) =>
    check.done === undefined
      ? { unchecked: true, keys: check.keys }
      : check.done.then(
          (done) => ({ done, keys: check.keys, doneKey: check.doneKey }),
          (error: unknown) => ({ error: error instanceof Error ? error.message : String(error), keys: check.keys }),
        );

  /** Records what is sent to Redis. */
  function watched(sent: string[], refuseScripts = false): RedisReader {
    const client = redis.client as unknown as RedisReader;
    return new Proxy(client, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          sent.push(String(property));
          if (refuseScripts && property === 'eval_ro') return Promise.reject(new Error('ERR unknown command'));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  it('answers every check as the check of that message alone would, in one script for the batch', async () => {
    await arrange();
    const alone = await Promise.all(batch.map((m) => outcome(startDuplicateChecks(gate, [m], redis.client)[0]!)));
    expect(alone.map((a) => ('error' in a ? 'error' : 'done' in a ? a.done : 'unchecked'))).toEqual([
      false,
      true,
      true,
      'unchecked',
      true,
      false,
      false,
      false,
      'error',
      true,
    ]);
    const sent: string[] = [];
    const together = await Promise.all(startDuplicateChecks(gate, batch, watched(sent)).map(outcome));
    expect(together).toEqual(alone);
    expect(sent).toEqual(['eval_ro']);
  });

  it('reads the keys one by one where the script is refused, with the same answers', async () => {
    await arrange();
    const alone = await Promise.all(batch.map((m) => outcome(startDuplicateChecks(gate, [m], redis.client)[0]!)));
    const sent: string[] = [];
    expect(await Promise.all(startDuplicateChecks(gate, batch, watched(sent, true)).map(outcome))).toEqual(alone);
    expect(sent[0]).toBe('eval_ro');
    expect(sent.slice(1).every((command) => command === 'exists' || command === 'get')).toBe(true);
  });

  it('sends no script for a batch with at most one message to check', async () => {
    await arrange();
    const sent: string[] = [];
    const checks = startDuplicateChecks(gate, [batch[3]!, batch[1]!], watched(sent));
    expect(await Promise.all(checks.map(outcome))).toEqual([
      { unchecked: true, keys: [] },
      { done: true, keys: ['absent', 'done'], doneKey: undefined },
    ]);
    expect(sent).toEqual(['exists', 'exists']);
  });
});
