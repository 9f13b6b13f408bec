import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { COOLDOWN_QUEUE } from '../../handlers/governor/record.js';
import { scheduledJobOptions } from '../../runtime/job-runner.js';
import type { Runtime } from '../../runtime/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';

const nowSec = () => Math.floor(Date.now() / 1000);

/** BullMQ's own features the runtime uses: job return values and job options. */
describe('BullMQ jobs on a real redis-server', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  /** Equity 100k; BTCUSDT 50k (over its budget), ETHUSDT 500 (inside it). */
  async function arrangePortfolio() {
    const r = redis.client;
    await r.hset(keys.portfolioState, { equity_usd: '100000', drawdown: '0.01', timestamp: String(nowSec()) });
    await r.hset(keys.position('BTCUSDT'), { symbol: 'BTCUSDT', position_notional_usd: '50000', sigma: '1.3' });
    await r.hset(keys.position('ETHUSDT'), { symbol: 'ETHUSDT', position_notional_usd: '-500', sigma: '30' });
    await r.sadd(keys.activePositions, 'BTCUSDT', 'ETHUSDT');
    await r.hset(keys.marketState('BTCUSDT'), { vol_regime: 'NORMAL_VOL' });
    await r.hset(keys.marketState('ETHUSDT'), { vol_regime: 'EXTREME_VOL' });
  }

  /** The return value of a completed tick for which `match` holds, once there is one. */
  async function tickReturning(match: (summary: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
    const queue = runtime!.services.jobs.queue('risk-budget');
    const job = await waitFor(
      async () => (await queue.getJobs(['completed'])).find((j: Job) => j.returnvalue !== null && typeof j.returnvalue === 'object' && match(j.returnvalue as Record<string, unknown>)),
      { what },
    );
    return job.returnvalue as Record<string, unknown>;
  }

  it('a budget tick returns what it saw and wrote: symbols, budgets, violations, and which portfolio state it used', async () => {
    await arrangePortfolio();
    runtime = await startRuntime(redis.url, { HANDLERS: 'risk-budget', BUDGET_COMPUTE_INTERVAL_SEC: '1', MAX_LKG_AGE_SEC: '60' });

    expect(await tickReturning((s) => s.portfolio_state === 'fresh', 'a tick on fresh state')).toEqual({
      outcome: 'handled',
      symbols: 2,
      budgets_written: 2,
      violations: 1,
      portfolio_state: 'fresh',
      heat_source: 'computed',
    });
    expect((await readStream(redis.client, streams.budgetViolation)).length).toBeGreaterThan(0);

    // Stale state: the budgets come from the last-known-good copy the fresh tick saved.
    await redis.client.hset(keys.portfolioState, { equity_usd: '1', timestamp: String(nowSec() - 45) });
    expect(await tickReturning((s) => s.portfolio_state === 'last-known-good', 'a tick on last-known-good')).toMatchObject({
      outcome: 'handled',
      symbols: 2,
      budgets_written: 2,
      portfolio_state: 'last-known-good',
    });

    // Both too old: nothing written, and the summary says so.
    await redis.client.hset(keys.budgetPortfolioLkg, 'timestamp', String(nowSec() - 120));
    expect(await tickReturning((s) => s.portfolio_state === 'none', 'a tick with no usable state')).toEqual({
      outcome: 'handled',
      symbols: 2,
      budgets_written: 0,
      violations: 0,
      portfolio_state: 'none',
    });
  });

  it('a cooldown-expiry job runs once, completes with its outcome, and BullMQ never runs it again', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor-cooldown' });
    const queue = runtime.services.jobs.queue(COOLDOWN_QUEUE);
    const startedAt = Date.now() - 1000;
    const job = { queue: COOLDOWN_QUEUE, name: 'cooldown-expired', data: { symbol: 'BTCUSDT', plan_id: 'cd-plan-1', started_at: startedAt, until: startedAt + 1000 }, delayMs: 0, jobId: 'cd-1' };
    await runtime.services.jobs.add([job]);

    await waitFor(async () => (await queue.getJobState('cd-1')) === 'completed', { what: 'the cooldown job completed' });
    const done = (await queue.getJob('cd-1'))!;
    expect(done.returnvalue).toEqual({ outcome: 'handled' });
    expect(done.attemptsMade).toBe(1);
    // Retries are for a job that did not commit (it threw); a completed one is finished.
    expect(done.opts).toMatchObject({ attempts: scheduledJobOptions.attempts, backoff: scheduledJobOptions.backoff, removeOnComplete: { count: 1000 } });

    // The governor scheduling the same cooldown again (a replay) adds nothing: the completed job keeps its id.
    await runtime.services.jobs.add([job]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await queue.getJobState('cd-1')).toBe('completed');
    expect(await queue.getJobCounts('wait', 'delayed', 'active', 'failed')).toEqual({ wait: 0, delayed: 0, active: 0, failed: 0 });
    const expired = (await readStream(redis.client, streams.governorEvents)).filter((e) => e.event === 'cooldown_expired' && e.plan_id === 'cd-plan-1');
    expect(expired).toHaveLength(1);
  });
});
