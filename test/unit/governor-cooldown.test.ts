import { describe, expect, it } from 'vitest';
import { governorCooldown } from '../../handlers/governor/cooldown.js';
import { keys, streams } from '../../schemas/keys.js';
import { runHandler, withoutJobDone } from '../support/fake-ctx.js';

const NOW = 1_800_000_060_000;
const STARTED = NOW - 60_000;

/** The job data as the job runner passes it: the governor's data plus scheduled_at and job_id. */
const job = {
  symbol: 'BTCUSDT',
  plan_id: 'plan-0001',
  started_at: String(STARTED),
  until: String(NOW),
  job_id: `cooldown-BTCUSDT-${STARTED}`,
};

describe('governor-cooldown', () => {
  it('emits cooldown_expired to the governor events stream once the cooldown has run', async () => {
    const run = await runHandler(governorCooldown, job, { now: NOW });
    expect(run.emitted(streams.governorEvents)).toEqual([
      {
        event: 'cooldown_expired',
        symbol: 'BTCUSDT',
        plan_id: 'plan-0001',
        started_at: `${STARTED / 1000}.0`,
        cooldown_until: `${NOW / 1000}.0`,
        timestamp: `${NOW / 1000}.0`,
      },
    ]);
    expect(run.metrics.get('quantum_govern_cooldown_expired_total', { symbol: 'BTCUSDT' })).toBe(1);
  });

  it("emits when last_exec is still its own permit's", async () => {
    const run = await runHandler(governorCooldown, job, {
      now: NOW,
      redis: { strings: { [keys.governorLastExec('BTCUSDT')]: String(STARTED / 1000) } },
    });
    expect(run.emitted(streams.governorEvents)).toHaveLength(1);
  });

  it('stays silent when a newer permit wrote last_exec (its own job will report)', async () => {
    const run = await runHandler(governorCooldown, job, {
      now: NOW,
      redis: { strings: { [keys.governorLastExec('BTCUSDT')]: String((NOW - 1000) / 1000) } },
    });
    expect(withoutJobDone(run.recorder.effects)).toEqual([]);
    expect(run.metrics.get('quantum_govern_cooldown_superseded_total')).toBe(1);
  });

  it('honours STREAM_EVENTS', async () => {
    const run = await runHandler(governorCooldown, job, { now: NOW, env: { STREAM_EVENTS: 'test:events' } });
    expect(run.emitted('test:events')).toHaveLength(1);
  });
});
