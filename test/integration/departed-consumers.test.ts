import * as z from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import { parseEnv } from '../../schemas/env.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import type { Redis } from 'ioredis';
import { commandCalls } from '../support/command-calls.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, startRuntime, waitFor } from '../support/runtime.js';

const IN = 'departed:stream:in';
const GROUP = 'departed';

const sink: AnyHandler = defineHandler({
  name: 'sink',
  description: 'test handler',
  trigger: { kind: 'stream', stream: () => IN, group: () => GROUP },
  input: z.looseObject({}),
  config: (env) => parseEnv(z.object({}), env),
  metrics: () => ({}),
  failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
  async handle() {},
});

async function consumers(redis: { call(...args: string[]): Promise<unknown> }): Promise<Map<string, number>> {
  const rows = (await redis.call('XINFO', 'CONSUMERS', IN, GROUP)) as unknown[][];
  return new Map(rows.map((row) => [String(row[1]), Number(row[3])]));
}

/** Each consumer's idle time (ms since its last read) by name. */
async function consumerIdle(redis: { call(...args: string[]): Promise<unknown> }): Promise<Map<string, number>> {
  const rows = (await redis.call('XINFO', 'CONSUMERS', IN, GROUP)) as unknown[][];
  return new Map(rows.map((row) => [String(row[1]), Number(row[5])]));
}

/** Resolves once the runtime's reclaim loop has started `passes` more passes (one XAUTOCLAIM each). */
async function afterPasses(redis: Redis, passes: number): Promise<void> {
  const before = await commandCalls(redis, 'xautoclaim');
  await waitFor(async () => (await commandCalls(redis, 'xautoclaim')) >= before + passes, { what: `${passes} reclaim passes` });
}

describe('consumers that departed', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('are removed once idle with nothing pending; one still holding entries, and the live one, stay', async () => {
    const r = redis.client;
    await r.xgroup('CREATE', IN, GROUP, '0', 'MKSTREAM');
    // Two earlier processes of this gate: one left cleanly, one died holding an entry.
    await r.call('XGROUP', 'CREATECONSUMER', IN, GROUP, 'host-111');
    await r.xadd(IN, '*', 'n', '1');
    await r.xreadgroup('GROUP', GROUP, 'host-222', 'COUNT', 1, 'STREAMS', IN, '>');
    expect([...(await consumers(r)).keys()].sort()).toEqual(['host-111', 'host-222']);

    // CLAIM_IDLE_MS far away, so host-222's entry stays where it is for the length of the test.
    runtime = await startRuntime(
      redis.url,
      { CONSUMER_NAME: 'host-333', DEPARTED_CONSUMER_IDLE_MS: '400', CLAIM_INTERVAL_MS: '100', CLAIM_IDLE_MS: '600000' },
      [sink],
    );
    await waitFor(async () => !(await consumers(r)).has('host-111'), { what: 'host-111 removed' });
    // The live consumer joins the group with its first XREADGROUP, which comes after its first
    // reclaim pass (XAUTOCLAIM does not create a consumer); host-222 becomes a candidate once idle
    // past DEPARTED_CONSUMER_IDLE_MS. Once both hold, a whole removal pass must run before looking:
    // each pass is one XAUTOCLAIM then the removal, so two more XAUTOCLAIMs enclose one.
    await waitFor(
      async () => {
        const now = await consumerIdle(r);
        return now.has('host-333') && (now.get('host-222') ?? 0) >= 400;
      },
      { what: 'host-333 reading and host-222 idle past 400 ms' },
    );
    await afterPasses(r, 2);

    const left = await consumers(r);
    expect(left.get('host-222')).toBe(1);
    expect(left.has('host-333')).toBe(true);
    expect(await metricSum(runtime, 'quantum_gates_departed_consumers_removed_total')).toBe(1);
  });

  it('are all kept with DEPARTED_CONSUMER_IDLE_MS=0', async () => {
    const r = redis.client;
    await r.xgroup('CREATE', IN, GROUP, '0', 'MKSTREAM');
    await r.call('XGROUP', 'CREATECONSUMER', IN, GROUP, 'host-111');
    runtime = await startRuntime(redis.url, { DEPARTED_CONSUMER_IDLE_MS: '0', CLAIM_INTERVAL_MS: '50' }, [sink]);
    // host-111 idle well past any removal threshold the passes below could apply.
    await waitFor(async () => ((await consumerIdle(r)).get('host-111') ?? 0) >= 100, { what: 'host-111 idle' });
    await afterPasses(r, 3);
    expect((await consumers(r)).has('host-111')).toBe(true);
  });
});
