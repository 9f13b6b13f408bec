import * as z from 'zod';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import { parseEnv } from '../../schemas/env.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { ManualClock } from '../support/clock.js';
import { untilStreamLength } from '../support/until.js';
import { WatchedClock } from '../support/until-polls-b.js';

const IN = 'test:stream:in';
const OUT = 'test:stream:out';
const DLQ = 'quantum:stream:dlq';

/** A handler that fails the first `failFirst` attempts of every message, then echoes it. */
function flaky(name: string, failFirst: number, policy: 'dead-letter' | 'fail-open' | 'fail-closed', backoffMs = 5): AnyHandler {
  // The tries of each message so far, by stream id (ctx.meta carries no attempt number).
  const tries = new Map<string, number>();
  return defineHandler({
    name,
    description: 'test handler',
    trigger: { kind: 'stream', stream: () => IN, group: () => name },
    input: z.looseObject({ n: z.string() }),
    config: (env) => parseEnv(z.object({}), env),
    metrics: () => ({}),
    failure:
      policy === 'dead-letter'
        ? { maxAttempts: 3, backoffMs, policy }
        : {
            maxAttempts: 3,
            backoffMs,
            policy,
            fallback: (m, failure, ctx) => ctx.emit(OUT, { n: m.n, via: `${policy}:${failure.attempts}` }),
          },
    async handle(message, ctx) {
      const attempt = (tries.get(ctx.meta.id) ?? 0) + 1;
      tries.set(ctx.meta.id, attempt);
      if (attempt <= failFirst) throw new Error(`boom on attempt ${attempt}`);
      ctx.emit(OUT, { n: message.n, via: `attempt:${attempt}` });
    },
  });
}

/** Claims a key per message; the second claimant must re-run, see the winner, and say so. */
const claimer = defineHandler({
  name: 'claimer',
  description: 'test handler with a commit guard',
  trigger: { kind: 'stream', stream: () => IN, group: () => 'claimer' },
  input: z.looseObject({ n: z.string(), key: z.string() }),
  config: (env) => parseEnv(z.object({}), env),
  metrics: () => ({}),
  failure: { maxAttempts: 3, backoffMs: 5, policy: 'dead-letter' },
  async handle(message, ctx) {
    const holder = await ctx.redis.get(message.key);
    if (holder !== null) {
      ctx.emit(OUT, { n: message.n, result: `lost to ${holder}` });
      return;
    }
    ctx.require(message.key, { is: 'absent' });
    ctx.put(message.key, message.n);
    ctx.emit(OUT, { n: message.n, result: 'won' });
  },
});

/** Echoes each message after holding it `hold_ms` (a stalled handler, a slow dependency). */
const slow = defineHandler({
  name: 'slow',
  description: 'test handler that takes its time',
  trigger: { kind: 'stream', stream: () => IN, group: () => 'slow' },
  input: z.looseObject({ n: z.string(), hold_ms: z.coerce.number().default(0) }),
  config: (env) => parseEnv(z.object({}), env),
  metrics: () => ({}),
  failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
  async handle(message, ctx) {
    if (message.hold_ms > 0) await new Promise((r) => setTimeout(r, message.hold_ms));
    ctx.emit(OUT, { n: message.n });
  },
});

describe('runtime on a real redis-server', () => {
  let redis: TestRedis;
  const running: Runtime[] = [];
  const start = async (handlers: AnyHandler[], env: Record<string, string> = {}, clock?: ManualClock) => {
    const runtime = await startRuntime(redis.url, env, handlers, clock ? { clock } : {});
    running.push(runtime);
    return runtime;
  };

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.client.flushall();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  it('retries a throwing handler after its backoff on the runtime clock and commits its output once it succeeds', async () => {
    await produce(redis.client, IN, [{ n: '1' }, { n: '2' }]);
    const clock = new WatchedClock();
    const runtime = await start([flaky('retry-then-ok', 2, 'dead-letter', 1000)], {}, clock);
    // backoffMs × 2^(attempt − 1): 1 s after the first attempt, 2 s after the second, and not a moment sooner.
    for (const backoff of [1000, 2000]) {
      await clock.untilSleep(backoff);
      await clock.advance(backoff - 1);
      expect(clock.sleeps).toContain(1);
      expect(await redis.client.xlen(OUT)).toBe(0);
      await clock.advance(1);
    }
    const out = await untilStreamLength(redis.client, OUT, 2);
    expect(out.map((e) => e.via)).toEqual(['attempt:3', 'attempt:3']);
    expect((await runtime.server.inject({ url: '/metrics' })).body).toMatch(/^quantum_gates_retries_total\{handler="retry-then-ok"\} 4$/m);
  });

  it.each([
    ['fail-open', 'fail-open:3'],
    ['fail-closed', 'fail-closed:3'],
  ] as const)('after maxAttempts applies the %s policy’s declared output', async (policy, via) => {
    await start([flaky(`always-${policy}`, 99, policy)]);
    await produce(redis.client, IN, [{ n: '1' }]);
    const [out] = await untilStreamLength(redis.client, OUT, 1);
    expect(out).toMatchObject({ n: '1', via });
    // Acknowledged in the commit that wrote its output.
    expect(await pendingCount(redis.client, IN, `always-${policy}`)).toBe(0);
    expect(await redis.client.xlen(DLQ)).toBe(0);
  });

  it('after maxAttempts dead-letters under the dead-letter policy, with the error', async () => {
    await start([flaky('always-dlq', 99, 'dead-letter')]);
    const [id] = await produce(redis.client, IN, [{ n: '7' }]);
    const [letter] = await untilStreamLength(redis.client, DLQ, 1);
    expect(letter).toMatchObject({
      handler: 'always-dlq',
      source_id: id,
      reason: 'handler_failed',
      attempts: '3',
      error: 'Error: boom on attempt 3',
    });
    expect(await redis.client.xlen(OUT)).toBe(0);
    // Acknowledged in the commit that wrote its dead letter.
    expect(await pendingCount(redis.client, IN, 'always-dlq')).toBe(0);
  });

  it('acknowledges an entry the handler declares unusable: no dead letter, what the hook recorded committed, outcome unusable', async () => {
    const picky = defineHandler({
      name: 'picky',
      description: 'test handler',
      trigger: { kind: 'stream', stream: () => IN, group: () => 'picky' },
      input: z.looseObject({ n: z.string() }),
      config: (env) => parseEnv(z.object({}), env),
      metrics: () => ({}),
      failure: {
        maxAttempts: 1,
        backoffMs: 0,
        policy: 'dead-letter',
        // Another service's entries on the same stream: counted here by a marker entry.
        unusable: (raw, ctx) => {
          if (raw.from !== 'elsewhere') return false;
          ctx.emit(OUT, { unusable: raw.n ?? '' });
          return true;
        },
      },
      handle: async (message, ctx) => ctx.emit(OUT, { n: message.n }),
    });
    const runtime = await start([picky]);
    await produce(redis.client, IN, [{ n: '1' }, { from: 'elsewhere', n: '2' }, { from: 'elsewhere' }, { junk: 'x' }]);
    await untilStreamLength(redis.client, OUT, 3);
    await untilStreamLength(redis.client, DLQ, 1);
    // Each entry acknowledged in the commit that wrote its output or dead letter.
    expect(await pendingCount(redis.client, IN, 'picky')).toBe(0);
    expect((await readStream(redis.client, OUT)).map(({ _id, ...fields }) => fields)).toEqual([
      { n: '1' },
      { unusable: '2' },
      { unusable: '' },
    ]);
    // Only the entry nobody should write (no n, not from elsewhere) is a dead letter.
    expect((await readStream(redis.client, DLQ))[0]).toMatchObject({ reason: 'invalid_input' });
    // Counters are applied just after the commit's reply: poll rather than race it.
    await waitFor(
      async () =>
        /^quantum_gates_messages_total\{handler="picky",outcome="unusable"\} 2$/m.test(
          (await runtime.server.inject({ url: '/metrics' })).body,
        ),
      { what: 'outcome unusable counted' },
    );
  });

  it('resolves racing claims with the commit guard: exactly one winner, the others re-run and see it', async () => {
    // Written before the start, so all 20 land in one batch and race inside one commit.
    await produce(
      redis.client,
      IN,
      Array.from({ length: 20 }, (_, i) => ({ n: String(i), key: 'test:claim' })),
    );
    const runtime = await start([claimer]);
    const out = await untilStreamLength(redis.client, OUT, 20);
    expect(out.filter((e) => e.result === 'won')).toHaveLength(1);
    expect(out.filter((e) => e.result === `lost to ${out.find((w) => w.result === 'won')!.n}`)).toHaveLength(19);
    expect((await runtime.server.inject({ url: '/metrics' })).body).toMatch(
      /^quantum_gates_commit_conflicts_total\{handler="claimer"\} [1-9]/m,
    );
  });

  it('resolves the same race between two replicas', async () => {
    await start([claimer], { CONSUMER_NAME: 'replica-a', BATCH_SIZE: '3' });
    await start([claimer], { CONSUMER_NAME: 'replica-b', BATCH_SIZE: '3' });
    await produce(
      redis.client,
      IN,
      Array.from({ length: 60 }, (_, i) => ({ n: String(i), key: `test:claim:${i % 3}` })),
    );
    const out = await untilStreamLength(redis.client, OUT, 60);
    expect(out.filter((e) => e.result === 'won')).toHaveLength(3);
  });

  it('reclaims the entries a dead replica left pending and processes them once', async () => {
    const handler = flaky('reclaim', 0, 'dead-letter');
    await redis.client.xgroup('CREATE', IN, 'reclaim', '0', 'MKSTREAM');
    await produce(
      redis.client,
      IN,
      Array.from({ length: 30 }, (_, i) => ({ n: String(i) })),
    );
    // A replica that read these entries and then died: they sit in its pending list, idle past CLAIM_IDLE_MS.
    const read = (await redis.client.xreadgroup('GROUP', 'reclaim', 'dead-replica', 'COUNT', 30, 'STREAMS', IN, '>')) as [
      string,
      [string, string[]][],
    ][];
    await redis.client.xclaim(IN, 'reclaim', 'dead-replica', 0, ...read[0]![1].map(([id]) => id), 'IDLE', 600_000);
    expect(await pendingCount(redis.client, IN, 'reclaim')).toBe(30);
    // A clock at 0: the first reclaim is due CLAIM_INTERVAL_MS after start, when the test moves it there.
    const clock = new ManualClock(0);
    const runtime = await start([handler], {}, clock);
    expect(await redis.client.xlen(OUT)).toBe(0);
    await clock.advance(runtime.config.CLAIM_INTERVAL_MS);
    const out = await untilStreamLength(redis.client, OUT, 30);
    expect(new Set(out.map((e) => e.n)).size).toBe(30);
    // Acknowledged in the commits that wrote the outputs; counted when reclaimed, before those.
    expect(await pendingCount(redis.client, IN, 'reclaim')).toBe(0);
    expect((await runtime.server.inject({ url: '/metrics' })).body).toMatch(/^quantum_gates_reclaimed_total\{handler="reclaim"\} 30$/m);
  });

  it('dead-letters an entry delivered more than MAX_DELIVERIES times (a message that kills its consumers)', async () => {
    await redis.client.xgroup('CREATE', IN, 'reclaim', '0', 'MKSTREAM');
    const [id] = await produce(redis.client, IN, [{ n: 'killer' }]);
    await redis.client.xreadgroup('GROUP', 'reclaim', 'crashed', 'COUNT', 1, 'STREAMS', IN, '>');
    for (let i = 0; i < 3; i++) {
      await redis.client.xclaim(IN, 'reclaim', `crashed-${i}`, 0, id!);
    }
    // Idle past CLAIM_IDLE_MS: the reclaim at start takes it.
    await redis.client.xclaim(IN, 'reclaim', 'crashed-3', 0, id!, 'IDLE', 600_000);
    await start([flaky('reclaim', 0, 'dead-letter')], { MAX_DELIVERIES: '3' });
    const [letter] = await untilStreamLength(redis.client, DLQ, 1);
    expect(letter).toMatchObject({ source_id: id, reason: 'too_many_deliveries' });
    expect(await redis.client.xlen(OUT)).toBe(0);
  });

  it('does not reclaim its own prefetched entries while a slow batch is in hand (no duplicate)', async () => {
    // Batch 1 is held past CLAIM_IDLE_MS while batch 2 sits prefetched and idle: the periodic
    // reclaim must not hand batch 2 to us a second time.
    await start([slow], { BATCH_SIZE: '1', CLAIM_IDLE_MS: '300', CLAIM_INTERVAL_MS: '100' });
    await produce(redis.client, IN, [{ n: '1', hold_ms: '900' }, { n: '2' }, { n: '3' }]);
    await untilStreamLength(redis.client, OUT, 3);
    // Each acknowledged in the commit that wrote its output.
    expect(await pendingCount(redis.client, IN, 'slow')).toBe(0);

    await new Promise((r) => setTimeout(r, 300));
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(['1', '2', '3']);
  });

  it('leaves a held entry to the consumer that reclaimed it, writing no output of its own', async () => {
    const runtime = await start([slow], { BATCH_SIZE: '1', CLAIM_IDLE_MS: '200', CLAIM_INTERVAL_MS: '60000' });
    const [id] = await produce(redis.client, IN, [{ n: 'held', hold_ms: '1000' }]);
    await waitFor(async () => (await pendingCount(redis.client, IN, 'slow')) === 1, { what: 'delivered' });
    await new Promise((r) => setTimeout(r, 400));
    // Another replica takes it over, as XAUTOCLAIM does past CLAIM_IDLE_MS.
    const claimed = (await redis.client.xautoclaim(IN, 'slow', 'other-replica', 200, '0-0', 'COUNT', 10)) as [string, [string, string[]][]];
    expect(claimed[1].map(([entry]) => entry)).toEqual([id]);
    await waitFor(async () => (await runtime.server.inject({ url: '/metrics' })).body.includes('cause="lost_ownership"'), {
      what: 'lost ownership seen',
    });
    expect(await redis.client.xlen(OUT)).toBe(0);
    const pending = (await redis.client.xpending(IN, 'slow', '-', '+', 10)) as [string, string, number, number][];
    expect(pending.map(([, owner]) => owner)).toEqual(['other-replica']);
  });

  it('writes nothing for an entry reclaimed while its batch was in hand, even before the held-batch check applies', async () => {
    // CLAIM_IDLE_MS is long, so the consumer's own check of a long-held batch never runs: only
    // the commit's atomic ownership check stands between the two consumers.
    const runtime = await start([slow], { BATCH_SIZE: '1', CLAIM_IDLE_MS: '60000', CLAIM_INTERVAL_MS: '60000' });
    const [id] = await produce(redis.client, IN, [{ n: 'held', hold_ms: '500' }]);
    await waitFor(async () => (await pendingCount(redis.client, IN, 'slow')) === 1, { what: 'delivered' });
    await redis.client.xclaim(IN, 'slow', 'other-replica', 0, id!);
    await waitFor(async () => (await runtime.server.inject({ url: '/metrics' })).body.includes('cause="lost_ownership"'), {
      what: 'lost ownership seen',
    });
    expect(await redis.client.xlen(OUT)).toBe(0);
    const pending = (await redis.client.xpending(IN, 'slow', '-', '+', 10)) as [string, string, number, number][];
    expect(pending.map(([entry, owner]) => [entry, owner])).toEqual([[id, 'other-replica']]);
  });

  it('answers /health, /ready and /metrics', async () => {
    const runtime = await start([flaky('probe', 0, 'dead-letter')]);
    expect((await runtime.server.inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await waitFor(async () => {
      const response = await runtime.server.inject({ url: '/ready' });
      return response.statusCode === 200 && 'pending:probe' in response.json() ? response : undefined;
    });
    expect(ready.json()).toMatchObject({ status: 'ready', redis: true, consumers: true, 'consumer:probe': true, 'pending:probe': 0 });
    const metrics = await runtime.server.inject({ url: '/metrics' });
    expect(metrics.body).toContain('process_resident_memory_bytes');
    expect(metrics.body).toContain('quantum_gates_consumer_up{handler="probe"} 1');
  });
});
