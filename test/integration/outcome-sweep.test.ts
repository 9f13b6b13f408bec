import { afterEach, describe, expect, it } from 'vitest';
import { sampleJobId } from '../../handlers/outcomes/follow-up.js';
import { governorOutcomes } from '../../handlers/outcomes/governor-follow-up.js';
import { outcomeSample, outcomeSweep } from '../../handlers/outcomes/sample.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime } from '../support/runtime.js';
import type { Redis } from 'ioredis';
import { untilKeys, untilStreamLength } from '../support/until.js';
import { permitFollowUp } from '../support/outcome-records.js';

/** A permitted open as the governor writes its event (schemas/governor-event.ts), priced at 2,000. */
const permit = (planId: string, now: number) =>
  Object.entries({
    event: 'permit',
    plan_id: planId,
    symbol: 'ETHUSDT',
    action: 'OPEN_LONG',
    decision: 'EXECUTE',
    side: 'BUY',
    source_id: planId,
    timestamp: String(now / 1000),
    reason: 'permitted',
    kind: 'open',
    computed_notional: '200',
    mark_price: '2000',
  }).flat();
const handlers = [governorOutcomes, outcomeSweep, outcomeSample];

/** Waits (on the due set's keyspace events, not a poll) until it holds `count` samples. */
const dueSetOf = (redis: { client: Redis }) => (count: number) =>
  untilKeys(redis.client, [keys.outcomeDue], async () => (await redis.client.zcard(keys.outcomeDue)) === count, {
    what: `${count} samples due`,
  });

describe('the outcome sweep: the samples due taken every OUTCOME_SWEEP_SEC', () => {
  const redis = usePrivateRedis();
  const dueSetHolds = dueSetOf(redis);
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it("takes each of a followed decision's samples once, never before its horizon, and empties the due set", async () => {
    await redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', '2100', 'timestamp', String(Date.now()));
    runtime = await startRuntime(
      redis.url,
      { HANDLERS: 'outcome-governor,outcome-sweep', OUTCOME_HORIZONS: '1s,2s', OUTCOME_SWEEP_SEC: '1' },
      handlers,
    );
    for (const planId of ['c1', 'c2', 'c3']) await redis.client.xadd(streams.governorEvents, '*', ...permit(planId, Date.now()));
    await untilStreamLength(redis.client, streams.gatesOutcome, 6, { what: 'six samples', timeoutMs: 20_000 });
    const samples = await readStream(redis.client, streams.gatesOutcome);
    expect(samples.map((s) => [s.plan_id, s.horizon, s.pnl_usd]).sort()).toEqual([
      ['c1', '1s', '10'],
      ['c1', '2s', '10'],
      ['c2', '1s', '10'],
      ['c2', '2s', '10'],
      ['c3', '1s', '10'],
      ['c3', '2s', '10'],
    ]);
    for (const s of samples) expect(Number(s.sampled_at)).toBeGreaterThanOrEqual(Number(s.decided_at) + (s.horizon === '1s' ? 1000 : 2000));
    expect(await redis.client.zcard(keys.outcomeDue)).toBe(0);
    // No BullMQ job a followed decision.
    expect(await runtime.services.jobs.queue('gates-outcome').count()).toBe(0);
  });

  it('writes a sample once that both the due set and a sample job of before 1.11.0 hold', async () => {
    await redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', '2100', 'timestamp', String(Date.now()));
    const id = 'gov:1-0';
    const now = Date.now();
    await redis.client.hset(keys.outcomeFollowUp(id), permitFollowUp(now - 1000));
    const data = { id, horizon: '1s', horizon_ms: 1000 };
    await redis.client.zadd(keys.outcomeDue, now, JSON.stringify(data));
    runtime = await startRuntime(redis.url, { HANDLERS: 'outcome-sweep,outcome-sample', OUTCOME_SWEEP_SEC: '1' }, handlers);
    const queue = runtime.services.jobs.queue('gates-outcome');
    await queue.add('outcome-sample', data, { jobId: sampleJobId(id, '1s') });
    await untilStreamLength(redis.client, streams.gatesOutcome, 1, { what: 'the sample' });
    await expect.poll(async () => (await queue.getJob(sampleJobId(id, '1s')))?.getState(), { timeout: 10_000 }).toBe('completed');
    await dueSetHolds(0);
    expect(await redis.client.xlen(streams.gatesOutcome)).toBe(1);
  });
});

describe('the outcome sweep across a Redis outage', () => {
  const redis = usePrivateRedis({ appendOnly: true });
  const dueSetHolds = dueSetOf(redis);
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('takes the samples that came due while Redis was down once it is back, each once', async () => {
    await redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', '2100', 'timestamp', String(Date.now()));
    runtime = await startRuntime(
      redis.url,
      { HANDLERS: 'outcome-governor,outcome-sweep', OUTCOME_HORIZONS: '1s,2s', OUTCOME_SWEEP_SEC: '1' },
      handlers,
    );
    await redis.client.xadd(streams.governorEvents, '*', ...permit('r1', Date.now()));
    await dueSetHolds(2);
    // Down past both horizons: every tick meanwhile fails or never runs.
    await redis.restart({ downMs: 3_000 });
    await redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', '2100', 'timestamp', String(Date.now()));
    await untilStreamLength(redis.client, streams.gatesOutcome, 2, { what: 'both samples', timeoutMs: 30_000 });
    await dueSetHolds(0);
    const samples = await readStream(redis.client, streams.gatesOutcome);
    expect(samples.map((s) => [s.horizon, s.pnl_usd])).toEqual([
      ['1s', '10'],
      ['2s', '10'],
    ]);
  });
});
