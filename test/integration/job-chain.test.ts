import { afterEach, describe, expect, it } from 'vitest';
import { sampleJobId } from '../../handlers/outcomes/follow-up.js';
import { outcomeSample } from '../../handlers/outcomes/sample.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';
import { permitFollowUp } from '../support/outcome-records.js';

describe('a sample job chain of before 1.11.0: one BullMQ job a followed decision, stepping through its horizons', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('samples each horizon once, in order, from one job that completes after the last', async () => {
    await redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', '2100', 'timestamp', String(Date.now()));
    runtime = await startRuntime(redis.url, { HANDLERS: 'outcome-sample', OUTCOME_HORIZONS: '1s,2s,3s' }, [outcomeSample]);
    // As a follow-up of 1.10 recorded it: its record, and one job carrying the later steps (runtime/engine/job-chain.ts).
    const id = 'gov:1-0';
    const now = Date.now();
    await redis.client.hset(keys.outcomeFollowUp(id), permitFollowUp(now));
    const step = (horizon: string, ms: number) => ({
      jobId: sampleJobId(id, horizon),
      data: { id, horizon, horizon_ms: ms },
      delayMs: ms,
    });
    const [first, ...rest] = [step('1s', 1000), step('2s', 2000), step('3s', 3000)];
    const queue = runtime.services.jobs.queue('gates-outcome');
    await queue.add('outcome-sample', { ...first!.data, gates_chain: rest }, { jobId: first!.jobId, delay: first!.delayMs });
    await untilStreamLength(redis.client, streams.gatesOutcome, 3, { what: 'three samples', timeoutMs: 20_000 });
    const samples = await readStream(redis.client, streams.gatesOutcome);
    expect(samples.map((s) => [s.horizon, s.pnl_usd])).toEqual([
      ['1s', '10'],
      ['2s', '10'],
      ['3s', '10'],
    ]);
    const job = (await queue.getJob(first!.jobId))!;
    await expect.poll(() => job.getState(), { timeout: 10_000 }).toBe('completed');
    expect(await queue.getJobCounts('completed', 'delayed', 'waiting', 'active', 'failed')).toEqual({
      completed: 1,
      delayed: 0,
      waiting: 0,
      active: 0,
      failed: 0,
    });
    // Each step recorded as done under its own job id, as three jobs of their own were.
    for (const horizon of ['1s', '2s', '3s'])
      expect(await redis.client.exists(`quantum:gates:job-done:gates-outcome:${sampleJobId(id, horizon)}`)).toBe(1);
  });

  it('a step taken up before its time (stalled while moving on to it) is delayed again, not decided early', async () => {
    await redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', '2100', 'timestamp', String(Date.now()));
    runtime = await startRuntime(redis.url, { HANDLERS: 'outcome-sample', OUTCOME_HORIZONS: '1s,2s' }, [outcomeSample]);
    const queue = runtime.services.jobs.queue('gates-outcome');
    const now = Date.now();
    await redis.client.hset(keys.outcomeFollowUp('gov:x'), permitFollowUp(now));
    // At its second step, due in 3 s, but waiting now (as after a stall between its move's two writes).
    await queue.add(
      'outcome-sample',
      { id: 'gov:x', horizon: '2s', horizon_ms: 2000, gates_step_id: 'early.2s', gates_step_due: now + 3_000 },
      { jobId: 'early' },
    );
    await expect.poll(async () => (await queue.getJob('early'))!.getState(), { timeout: 10_000 }).toBe('delayed');
    expect(await redis.client.xlen(streams.gatesOutcome)).toBe(0);
    await untilStreamLength(redis.client, streams.gatesOutcome, 1, { what: 'the sample, once due', timeoutMs: 15_000 });
    const [sample] = await readStream(redis.client, streams.gatesOutcome);
    expect(Number(sample!.sampled_at)).toBeGreaterThanOrEqual(now + 3_000);
  });
});
