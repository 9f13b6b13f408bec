import { describe, expect, it } from 'vitest';
import { governorCooldown } from '../../handlers/governor/cooldown.js';
import { keys, streams } from '../../schemas/keys.js';
import { runHandler } from '../support/fake-ctx.js';

const NOW = 1_800_000_060_000;
const STARTED = NOW - 60_000;

/** The job data as the job runner passes it: the governor's data plus scheduled_at and job_id. */
const job = { symbol: 'BTCUSDT', plan_id: 'plan-0001', started_at: String(STARTED), until: String(NOW), job_id: `cooldown-BTCUSDT-${STARTED}` };

describe('governor-cooldown', () => {
  it('emits cooldown_expired to the governor events stream once the cooldown key is gone', async () => {
    const run = await runHandler(governorCooldown, job, { now: NOW });
    expect(run.emitted(streams.governorEvents)).toEqual([
      { event: 'cooldown_expired', symbol: 'BTCUSDT', plan_id: 'plan-0001', started_at: String(STARTED / 1000), cooldown_until: String(NOW / 1000), timestamp: String(NOW / 1000) },
    ]);
    expect(run.metrics.get('quantum_govern_cooldown_expired_total', { symbol: 'BTCUSDT' })).toBe(1);
  });

  it('emits when the key of its own cooldown is still there (the job fired at the edge)', async () => {
    const own = JSON.stringify({ plan_id: 'plan-0001', started_at: STARTED, until: NOW });
    const run = await runHandler(governorCooldown, job, { now: NOW, redis: { strings: { [keys.governorCooldown('BTCUSDT')]: own } } });
    expect(run.emitted(streams.governorEvents)).toHaveLength(1);
  });

  it('stays silent when a newer cooldown replaced this one (its own job will report)', async () => {
    const newer = JSON.stringify({ plan_id: 'plan-0002', started_at: NOW - 1000, until: NOW + 59_000 });
    const run = await runHandler(governorCooldown, job, { now: NOW, redis: { strings: { [keys.governorCooldown('BTCUSDT')]: newer } } });
    expect(run.recorder.effects).toEqual([]);
    expect(run.metrics.get('quantum_govern_cooldown_superseded_total')).toBe(1);
  });

  it('honours STREAM_EVENTS', async () => {
    const run = await runHandler(governorCooldown, job, { now: NOW, env: { STREAM_EVENTS: 'test:events' } });
    expect(run.emitted('test:events')).toHaveLength(1);
  });
});
