import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { COOLDOWN_QUEUE } from '../../handlers/governor/record.js';
import { defineHandler } from '../../runtime/contract/handler.js';
import { JobQueues, scheduledJobOptions } from '../../runtime/sources/job-queues.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { prometheusTextProblems, promtoolCheckMetrics } from '../support/prometheus-text.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { untilJobsFinished } from '../support/until-polls-b.js';

const nowSec = () => Math.floor(Date.now() / 1000);

/** BullMQ's own features the runtime uses: job return values and job options. */
describe('BullMQ jobs on a real redis-server', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  /**
   * Starts `held`'s gate alone, gives it one job, and stops the runtime while that job's first run is held, releasing it
   * `heldMs` into the stop.
   */
  async function stopWithJobInHand(held: HeldJobGate, jobId: string, n: number, heldMs = 0, env: Record<string, string> = {}) {
    runtime = await startRuntime(redis.url, { HANDLERS: held.gate.name, ...env }, [held.gate]);
    await runtime.services.jobs.add([{ queue: held.queue, name: 'probe', data: { n }, delayMs: 0, jobId }]);
    await held.inFirstRun;
    const stopped = runtime.stop();
    setTimeout(held.release, heldMs);
    await stopped;
    runtime = undefined;
  }

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
      async () =>
        (await queue.getJobs(['completed'])).find(
          (j: Job) => j.returnvalue !== null && typeof j.returnvalue === 'object' && match(j.returnvalue as Record<string, unknown>),
        ),
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
    // The copy's age is the time since it was saved (saved_at), as the budget engine reads it.
    await redis.client.hset(keys.budgetPortfolioLkg, 'saved_at', String(nowSec() - 120));
    expect(await tickReturning((s) => s.portfolio_state === 'none', 'a tick with no usable state')).toEqual({
      outcome: 'handled',
      symbols: 2,
      budgets_written: 0,
      violations: 0,
      portfolio_state: 'none',
    });
  });

  it("appends BullMQ's queue metrics to /metrics for every queue the process opened, as valid Prometheus text", async () => {
    await arrangePortfolio();
    runtime = await startRuntime(redis.url, { HANDLERS: 'risk-budget,governor-cooldown', BUDGET_COMPUTE_INTERVAL_SEC: '1' });
    // A queue opened later by ctx.schedule is reported too.
    await runtime.services.jobs.add([{ queue: 'qg-probe-later', name: 'probe', data: {}, delayMs: 3_600_000, jobId: 'later-1' }]);
    const scrape = async () => (await runtime!.server.inject({ url: '/metrics' })).body;
    const body = await waitFor(
      async () => {
        const text = await scrape();
        // BullMQ's export reads the job counts before the totals, so a tick that completes between
        // the two reads is counted in the total but still shown active: wait for a scrape after it.
        const settled =
          /^bullmq_job_completed_total\{queue="risk-budget"\} [1-9]/m.test(text) &&
          /^bullmq_job_count\{queue="risk-budget", state="completed"\} [1-9]/m.test(text);
        return settled ? text : undefined;
      },
      { what: 'a completed tick counted by BullMQ, in its totals and its job counts' },
    );

    expect(body).toMatch(/^bullmq_job_count\{queue="risk-budget", state="completed"\} [1-9]\d*$/m);
    expect(body).toMatch(/^bullmq_job_count\{queue="governor-cooldown", state="waiting"\} 0$/m);
    expect(body).toMatch(/^bullmq_job_count\{queue="qg-probe-later", state="delayed"\} 1$/m);
    expect(body.match(/^# HELP bullmq_job_count /gm)).toHaveLength(1);
    expect(body.match(/^# TYPE bullmq_job_failed_total counter$/gm)).toHaveLength(1);
    // The runtime's own families are still there, each once.
    expect(body.match(/^# TYPE quantum_gates_messages_total counter$/gm)).toHaveLength(1);
    expect(body).toMatch(/^p28_enforce_mode 0$/m);

    expect(prometheusTextProblems(body)).toEqual([]);
    const promtool = promtoolCheckMetrics(body);
    if (promtool.missing) throw new Error("promtool is missing: install Debian's prometheus package (apt-get install -y prometheus)");
    // 0: clean; 3: lint remarks only (naming advice), never a text Prometheus could not parse (1).
    expect(promtool.output).not.toMatch(/error|parsing/i);
    expect([0, 3]).toContain(promtool.status);
  });

  it('a scheduled job whose run was cut short by a stop is run again by BullMQ, not dropped', async () => {
    const held = heldJobGate('test-interrupted-job', 'qg-test-interrupted', 'qg:test:interrupted', true);
    await stopWithJobInHand(held, 'interrupted-1', 7);

    runtime = await startRuntime(redis.url, { HANDLERS: held.gate.name }, [held.gate]);
    const queue = runtime.services.jobs.queue(held.queue);
    const first = (await queue.getJob('interrupted-1'))!;
    expect(first.failedReason).toContain('shutting down before the job finished');
    await untilJobsFinished(queue, ['interrupted-1'], { timeoutMs: 20_000 });
    expect((await queue.getJob('interrupted-1'))!.attemptsMade).toBe(2);
    expect(await readStream(redis.client, 'qg:test:interrupted')).toEqual([expect.objectContaining({ n: '7' })]);
  });

  it('a job in hand at a stop commits and is completed in BullMQ before the stop returns', async () => {
    // Held past the bound the stop gives BullMQ's close (COMMAND_TIMEOUT_MS): that bound starts once the job has settled.
    const held = heldJobGate('test-job-in-hand', 'qg-test-in-hand', 'qg:test:in-hand', false);
    await stopWithJobInHand(held, 'in-hand-1', 3, 1_500, { COMMAND_TIMEOUT_MS: '500' });

    expect(await readStream(redis.client, 'qg:test:in-hand')).toEqual([expect.objectContaining({ n: '3' })]);
    const queues = await new JobQueues({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, 'bull').load();
    try {
      const queue = queues.queue('qg-test-in-hand');
      expect(await queue.getJobState('in-hand-1')).toBe('completed');
      expect((await queue.getJob('in-hand-1'))!.attemptsMade).toBe(1);
    } finally {
      await queues.close();
    }
  });

  it('a cooldown-expiry job runs once, completes with its outcome, and BullMQ never runs it again', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor-cooldown' });
    const queue = runtime.services.jobs.queue(COOLDOWN_QUEUE);
    const startedAt = Date.now() - 1000;
    const job = {
      queue: COOLDOWN_QUEUE,
      name: 'cooldown-expired',
      data: { symbol: 'BTCUSDT', plan_id: 'cd-plan-1', started_at: startedAt, until: startedAt + 1000 },
      delayMs: 0,
      jobId: 'cd-1',
    };
    await runtime.services.jobs.add([job]);

    await untilJobsFinished(queue, ['cd-1']);
    const done = (await queue.getJob('cd-1'))!;
    expect(done.returnvalue).toEqual({ outcome: 'handled' });
    expect(done.attemptsMade).toBe(1);
    // Retries are for a job that did not commit (it threw); a completed one is finished.
    expect(done.opts).toMatchObject({
      attempts: scheduledJobOptions.attempts,
      backoff: scheduledJobOptions.backoff,
      removeOnComplete: { count: 1000 },
    });

    // The governor scheduling the same cooldown again (a replay) adds nothing: the completed job keeps its id.
    // A cooldown of another plan added after it has run when it completes, so a second run of cd-1
    // would show by then (active, or a second cooldown_expired), with no sleep guessing how long.
    await runtime.services.jobs.add([job]);
    await runtime.services.jobs.add([{ ...job, data: { ...job.data, symbol: 'ETHUSDT', plan_id: 'cd-plan-2' }, jobId: 'cd-after' }]);
    await untilJobsFinished(queue, ['cd-after']);
    expect(await queue.getJobState('cd-1')).toBe('completed');
    expect(await queue.getJobCounts('wait', 'delayed', 'active', 'failed')).toEqual({ wait: 0, delayed: 0, active: 0, failed: 0 });
    const expired = (await readStream(redis.client, streams.governorEvents)).filter(
      (e) => e.event === 'cooldown_expired' && e.plan_id === 'cd-plan-1',
    );
    expect(expired).toHaveLength(1);
  });

  it('due jobs run together (JOB_CONCURRENCY) and commit in batches: each completes once, with its own outcome', async () => {
    const batched = defineHandler({
      name: 'test-batched-jobs',
      description: 'emits one entry per job',
      trigger: { kind: 'queue', queue: 'qg-test-batched' },
      input: z.looseObject({ n: z.number().int() }),
      config: () => ({}),
      metrics: () => ({}),
      failure: { maxAttempts: 1, backoffMs: 10, policy: 'dead-letter' },
      async handle(job, ctx) {
        ctx.emit('qg:test:batched', { n: String(job.n) });
      },
    });
    const start = () => startRuntime(redis.url, { HANDLERS: batched.name, JOB_CONCURRENCY: '16' }, [batched]);
    // Added while no worker runs, so they are all due at once when it starts, as after a restart.
    const sink = new JobQueues({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, 'bull');
    const jobs = Array.from({ length: 40 }, (_, n) => ({
      queue: 'qg-test-batched',
      name: 'probe',
      // Every tenth job is invalid: dead-lettered in the same batches as the others.
      data: { n: n % 10 === 3 ? 'not a number' : n },
      delayMs: 0,
      jobId: `batched-${n}`,
    }));
    await sink.add(jobs);
    await sink.close();
    runtime = await start();
    const queue = runtime.services.jobs.queue('qg-test-batched');
    await untilJobsFinished(
      queue,
      jobs.map((job) => job.jobId),
      { timeoutMs: 20_000 },
    );
    expect((await queue.getJobCounts('completed')).completed).toBe(40);

    for (let n = 0; n < 40; n++) {
      const job = (await queue.getJob(`batched-${n}`))!;
      expect(job.attemptsMade).toBe(1);
      expect(job.returnvalue).toEqual(n % 10 === 3 ? { outcome: 'dead-letter', reason: 'invalid_input' } : { outcome: 'handled' });
    }
    const emitted = (await readStream(redis.client, 'qg:test:batched')).map((e) => Number(e.n)).sort((a, b) => a - b);
    expect(emitted).toEqual(Array.from({ length: 40 }, (_, n) => n).filter((n) => n % 10 !== 3));
  });
});

type HeldJobGate = ReturnType<typeof heldJobGate>;

/**
 * A gate on `queue` whose first run waits in its handle until `release()`, so that a stop made meanwhile finds a job in
 * hand. Every run emits the job's n to `stream`, except a first run that `failsFirst`: that one throws once released.
 */
function heldJobGate(name: string, queue: string, stream: string, failsFirst: boolean) {
  let entered!: () => void;
  let release!: () => void;
  const inFirstRun = new Promise<void>((resolve) => (entered = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let first = true;
  const gate = defineHandler({
    name,
    description: 'holds its first run until released',
    trigger: { kind: 'queue', queue },
    input: z.looseObject({ n: z.coerce.number() }),
    config: () => ({}),
    metrics: () => ({}),
    failure: { maxAttempts: 3, backoffMs: 10, policy: 'dead-letter' },
    async handle(job, ctx) {
      if (first) {
        first = false;
        entered();
        await released;
        if (failsFirst) throw new Error('first run fails; the runtime is stopping, so it is not retried in-process');
      }
      ctx.emit(stream, { n: String(job.n) });
    },
  });
  return { gate, queue, inFirstRun, release };
}
