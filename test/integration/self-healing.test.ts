import * as z from 'zod';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import { parseEnv } from '../../schemas/env.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { metricSum, pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { ManualClock } from '../support/clock.js';
import { untilKeys, untilStreamLength } from '../support/until.js';
import { WatchedClock } from '../support/until-polls-b.js';
import { retryPolicy } from '../../runtime/engine/retry-policy.js';

const IN = 'heal:stream:in';
const OUT = 'heal:stream:out';
const DLQ = 'quantum:stream:dlq';

/** Echoes every message to OUT; a message with `bad` set is invalid and dead-lettered. */
const echo: AnyHandler = defineHandler({
  name: 'echo',
  description: 'test handler',
  trigger: { kind: 'stream', stream: () => IN, group: () => 'echo' },
  input: z.looseObject({ n: z.string(), bad: z.never().optional() }),
  config: (env) => parseEnv(z.object({}), env),
  metrics: () => ({}),
  failure: { maxAttempts: 3, backoffMs: 5, policy: 'dead-letter' },
  async handle(message, ctx) {
    ctx.emit(OUT, { n: message.n });
  },
});

/** Ticks every minute through a BullMQ job scheduler, writing one entry per tick. */
const ticker: AnyHandler = defineHandler({
  name: 'ticker',
  description: 'test scheduled handler',
  trigger: { kind: 'schedule', queue: 'heal-ticks', everyMs: () => 60_000 },
  input: z.looseObject({}),
  config: (env) => parseEnv(z.object({}), env),
  metrics: () => ({}),
  failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
  async handle(_message, ctx) {
    ctx.emit('heal:ticks', { at: String(ctx.now()) });
  },
});

const numbered = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ n: String(from + i) }));

/** The n of every OUT entry, in order. */
async function outputs(redis: TestRedis): Promise<string[]> {
  return (await readStream(redis.client, OUT)).map((e) => e.n!);
}

async function readyStatus(runtime: Runtime): Promise<{ code: number; body: Record<string, unknown> }> {
  const reply = await runtime.server.inject({ url: '/ready' });
  return { code: reply.statusCode, body: reply.json() };
}

/** The ids of the runtime's connections with the given name suffix (ioredis sets CLIENT SETNAME). */
async function clientIds(redis: TestRedis, nameSuffix: string, also: RegExp = /./): Promise<string[]> {
  const list = (await redis.client.call('CLIENT', 'LIST')) as string;
  return list
    .split('\n')
    .filter((line) => new RegExp(`name=quantum-gates:\\S*${nameSuffix}( |$)`).test(line) && also.test(line))
    .map((line) => /id=(\d+)/.exec(line)![1]!);
}

describe('the runtime heals Redis faults by itself', () => {
  let redis: TestRedis;
  let runtime: Runtime | undefined;
  const start = async (env: Record<string, string> = {}, clock?: ManualClock) => {
    runtime = await startRuntime(
      redis.url,
      {
        CLAIM_INTERVAL_MS: '60000',
        REDIS_STALL_MS: '300',
        COMMIT_BACKOFF_MAX_MS: '200',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        ...env,
      },
      [echo],
      clock ? { clock } : {},
    );
    return runtime;
  };

  beforeAll(async () => {
    redis = await startTestRedis({ extraArgs: ['--enable-debug-command', 'yes'] });
  });
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.client.flushall();
  });
  afterEach(async () => {
    await redis.client.config('SET', 'maxmemory', '0');
    await runtime?.stop();
    runtime = undefined;
  });

  it('a CLIENT KILL of the reader blocked in XREADGROUP costs a moment, not the gate', async () => {
    const gate = await start({ BLOCK_MS: '5000' });
    // Redis lists a client blocked in a command with flag b and that command's name.
    await waitFor(
      async () =>
        (await clientIds(redis, 'echo:read', /cmd=xreadgroup/)).length === 1 &&
        (await clientIds(redis, 'echo:read', / flags=\S*b/)).length === 1,
      {
        what: 'the reader blocked in XREADGROUP',
      },
    );
    for (const id of await clientIds(redis, 'echo:read')) await redis.client.call('CLIENT', 'KILL', 'ID', id);
    await produce(redis.client, IN, numbered(1, 10));
    await untilStreamLength(redis.client, OUT, 10, { what: '10 decisions after the kill', timeoutMs: 10_000 });
    expect(await outputs(redis)).toEqual(numbered(1, 10).map((m) => m.n));
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
    expect((await readyStatus(gate)).code).toBe(200);
  });

  it('a storm of CLIENT KILLs on every connection during load: every message decided exactly once', async () => {
    await start({ BATCH_SIZE: '50' });
    const producing = produce(redis.client, IN, numbered(1, 3000), 100);
    for (let round = 0; round < 15; round++) {
      for (const id of await clientIds(redis, '')) await redis.client.call('CLIENT', 'KILL', 'ID', id).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 60));
    }
    await producing;
    await untilStreamLength(redis.client, OUT, 3000, { what: 'all 3000 decided', timeoutMs: 30_000 });
    // Each acknowledged in the commit that wrote its output.
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
    const seen = await outputs(redis);
    expect(seen.length).toBe(3000);
    expect(new Set(seen).size).toBe(3000);
  });

  it('a destroyed consumer group is created again where it stood: nothing skipped, nothing done twice', async () => {
    const gate = await start();
    await produce(redis.client, IN, numbered(1, 20));
    await untilStreamLength(redis.client, OUT, 20, { what: 'first 20' });
    await redis.client.xgroup('DESTROY', IN, 'echo');
    await produce(redis.client, IN, numbered(21, 20));
    await untilStreamLength(redis.client, OUT, 40, { what: '20 more after XGROUP DESTROY' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await outputs(redis)).toEqual(numbered(1, 40).map((m) => m.n));
    expect(await metricSum(gate, 'quantum_gates_recreated_total', { what: 'consumer_group' })).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await readyStatus(gate)).code === 200, { what: 'ready again' });
  });

  it('after FLUSHALL the group is created again and every message written after it is decided', async () => {
    await start();
    await produce(redis.client, IN, numbered(1, 5));
    await untilStreamLength(redis.client, OUT, 5, { what: 'first 5' });
    await redis.client.flushall();
    await new Promise((r) => setTimeout(r, 200));
    await produce(redis.client, IN, numbered(6, 5));
    await untilStreamLength(redis.client, OUT, 5, { what: 'the 5 written after FLUSHALL' });
    expect(await outputs(redis)).toEqual(['6', '7', '8', '9', '10']);
  });

  it('an output key of the wrong type keeps its messages pending, and heals when the key is fixed, after the backoff on the runtime clock', async () => {
    const clock = new WatchedClock();
    await redis.client.set(OUT, 'not a stream');
    // Written before the gate starts, so its first read takes all three (its group starts at 0):
    // written while it waits in XREADGROUP, the first XADD alone could wake it, the other two
    // waiting behind the first one's backoff.
    await produce(redis.client, IN, numbered(1, 3));
    const gate = await start({}, clock);
    // Refused once, the commit waits its first backoff (retryPolicy.commitFirstPauseMs) on the clock.
    await clock.untilSleep(retryPolicy.commitFirstPauseMs);
    expect(await metricSum(gate, 'quantum_gates_commit_failures_total', { cause: 'wrongtype' })).toBe(1);
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(3);
    await redis.client.del(OUT);
    // Not tried again before its time, however long the test takes.
    await clock.advance(retryPolicy.commitFirstPauseMs - 1);
    expect(await outputs(redis)).toEqual([]);
    await clock.advance(1);
    await untilStreamLength(redis.client, OUT, 3, { what: 'outputs once the key is fixed' });
    expect(await outputs(redis)).toEqual(['1', '2', '3']);
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
  });

  it('an output key of the wrong type holds its messages, /ready 503 naming the key, until it is fixed; then each is written once, in order', async () => {
    const gate = await start();
    await redis.client.set(OUT, 'not a stream');
    await produce(redis.client, IN, numbered(1, 3));
    // Refused again and again: held (pending), never dead-lettered, /ready naming the key meanwhile.
    await waitFor(async () => (await metricSum(gate, 'quantum_gates_commit_failures_total', { cause: 'wrongtype' })) >= 3, {
      what: 'the output refused three times',
    });
    const refused = await readyStatus(gate);
    expect(refused.code).toBe(503);
    expect(JSON.stringify(refused.body)).toContain(OUT);
    expect(await pendingCount(redis.client, IN, 'echo')).toBeGreaterThan(0);
    expect(await redis.client.exists(DLQ)).toBe(0);
    await redis.client.del(OUT);
    await produce(redis.client, IN, numbered(4, 2));
    await untilStreamLength(redis.client, OUT, 5, { what: 'every output once the key is fixed' });
    expect(await outputs(redis)).toEqual(['1', '2', '3', '4', '5']);
    expect(await redis.client.exists(DLQ)).toBe(0);
    await waitFor(async () => (await readyStatus(gate)).code === 200, { what: 'ready again' });
  });

  it('a dead-letter stream of the wrong type keeps the invalid message pending until its dead letter can be written', async () => {
    const gate = await start();
    await redis.client.set(DLQ, 'x');
    await produce(redis.client, IN, [{ n: '1', bad: 'yes' }]);
    // Its dead letter refused once: the message stays pending rather than be acknowledged without it.
    await waitFor(async () => (await metricSum(gate, 'quantum_gates_commit_failures_total', { cause: 'wrongtype' })) > 0, {
      what: 'the dead letter refused (wrongtype)',
    });
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(1);
    await redis.client.del(DLQ);
    await untilStreamLength(redis.client, DLQ, 1, { what: 'the dead letter' });
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
  });

  it('Redis at maxmemory with noeviction: /ready is 503 (writes refused) and the gate resumes when memory is back', async () => {
    const gate = await start();
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.client.config('SET', 'maxmemory', '1');
    await produce(redis.client, IN, numbered(1, 1)).catch(() => undefined); // XADD itself is refused: write it before
    await waitFor(async () => (await readyStatus(gate)).code === 503, { what: '503 while writes are refused' });
    const { body } = await readyStatus(gate);
    expect(String(body.cause)).toMatch(/writes_refused/);
    await redis.client.config('SET', 'maxmemory', '0');
    await produce(redis.client, IN, numbered(2, 2));
    await untilStreamLength(redis.client, OUT, 2, { what: 'decisions after memory is back' });
    await waitFor(async () => (await readyStatus(gate)).code === 200, { what: 'ready again' });
  });

  it('a job scheduler removed behind its back (a restart without persistence, the dashboard) is registered again', async () => {
    const gate = await startRuntime(redis.url, { CLAIM_INTERVAL_MS: '300', LOG_LEVEL: 'silent' }, [ticker]);
    runtime = gate;
    await untilStreamLength(redis.client, 'heal:ticks', 1, { what: 'the first tick' });
    const queue = gate.services.jobs.queue('heal-ticks');
    // As a restart without persistence leaves it: the scheduler and its next job gone.
    await redis.client.del('bull:heal-ticks:repeat', 'bull:heal-ticks:repeat:ticker:tick', 'bull:heal-ticks:delayed');
    const listed = async () => (await queue.getJobSchedulers()).some((s) => s.key === 'ticker:tick');
    expect(await listed()).toBe(false);
    // BullMQ keeps its schedulers in the queue's repeat key: registering again writes it.
    await untilKeys(redis.client, ['bull:heal-ticks:repeat'], listed, { what: 'the scheduler registered again' });
    expect(await metricSum(gate, 'quantum_gates_recreated_total', { what: 'job_scheduler' })).toBe(1);
    await waitFor(async () => (await readyStatus(gate)).code === 200, { what: 'ready' });
  });

  it('a stalled Redis (DEBUG SLEEP) turns /ready 503, and 200 again after', async () => {
    const gate = await start();
    await waitFor(async () => (await readyStatus(gate)).code === 200, { what: 'ready' });
    const sleeper = redis.client.duplicate();
    const sleeping = sleeper.call('DEBUG', 'SLEEP', '1.5');
    await waitFor(async () => (await readyStatus(gate)).code === 503, { what: '503 during the stall', intervalMs: 50 });
    expect(String((await readyStatus(gate)).body.cause)).toMatch(/stalled/);
    await sleeping;
    sleeper.disconnect();
    await waitFor(async () => (await readyStatus(gate)).code === 200, { what: 'ready after the stall' });
    await produce(redis.client, IN, numbered(1, 3));
    await untilStreamLength(redis.client, OUT, 3, { what: 'decisions after the stall' });
  });
});
