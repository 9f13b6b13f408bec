import { describe, expect, it } from 'vitest';
import { chainJobs, nextStepData, stepOf } from '../../runtime/engine/job-chain.js';

const sample = (horizon: string, delayMs: number) => ({
  queue: 'gates-outcome',
  name: 'outcome-sample',
  data: { id: 'heat:1-0', horizon },
  delayMs,
  jobId: `outcome.heat.1-0.${horizon}`,
});

describe("a decision's jobs of one queue and name are one job that steps through them", () => {
  it('chains them in order of their delays into the first, and leaves a lone job and other queues as they are', () => {
    const cooldown = { queue: 'gates-cooldown', name: 'cooldown', data: { symbol: 'ETHUSDT' }, delayMs: 5, jobId: 'cd' };
    const [chained, other] = chainJobs([sample('1h', 3_600_000), sample('5m', 300_000), cooldown, sample('4h', 14_400_000)]);
    expect(chained).toEqual({
      ...sample('5m', 300_000),
      data: {
        id: 'heat:1-0',
        horizon: '5m',
        gates_chain: [
          { jobId: 'outcome.heat.1-0.1h', data: { id: 'heat:1-0', horizon: '1h' }, delayMs: 3_600_000 },
          { jobId: 'outcome.heat.1-0.4h', data: { id: 'heat:1-0', horizon: '4h' }, delayMs: 14_400_000 },
        ],
      },
    });
    expect(other).toEqual(cooldown);
    expect(chainJobs([cooldown])).toEqual([cooldown]);
  });

  it('each step is read as the job of its own it stands for: its data, its id, its due time after the add', () => {
    const [chained] = chainJobs([sample('5m', 300_000), sample('1h', 3_600_000), sample('4h', 14_400_000)]);
    const first = stepOf('outcome.heat.1-0.5m', chained!.data);
    expect(first).toEqual({ id: 'outcome.heat.1-0.5m', data: { id: 'heat:1-0', horizon: '5m' }, next: expect.any(Array) });
    const second = stepOf('outcome.heat.1-0.5m', nextStepData(1_000, first.next));
    expect(second).toMatchObject({ id: 'outcome.heat.1-0.1h', data: { id: 'heat:1-0', horizon: '1h' }, dueAt: 3_601_000 });
    const last = stepOf('outcome.heat.1-0.5m', nextStepData(1_000, second.next));
    expect(last).toEqual({ id: 'outcome.heat.1-0.4h', data: { id: 'heat:1-0', horizon: '4h' }, dueAt: 14_401_000, next: [] });
  });
});
