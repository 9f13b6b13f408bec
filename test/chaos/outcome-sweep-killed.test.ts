import { afterEach, describe, expect, it } from 'vitest';
import { outcomeSweep } from '../../handlers/outcomes/sample.js';
import { dueSample } from '../../handlers/outcomes/due.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';
import { killGateConnections } from './support/kill-connections.js';
import { permitFollowUp } from '../support/outcome-records.js';

/**
 * The outcome sweep's fault: its tick fails midway (every gate connection killed, over and over,
 * while it takes a backlog of due samples, as after an outage). A failed tick leaves its samples
 * due; each sample's commit guards its sample key and removes its member in one script, so none is
 * written twice and none is dropped.
 */
describe('the outcome sweep with its connections killed while it takes a backlog (chaos)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('writes every sample due exactly once and empties the due set', async () => {
    const r = redis.client;
    const now = Date.now();
    await r.hset(keys.marketState('ETHUSDT'), 'mark_price', '2100', 'timestamp', String(now));
    const decisions = 200;
    const tx = r.multi();
    for (let i = 0; i < decisions; i++) {
      const id = `gov:${i}-0`;
      tx.hset(keys.outcomeFollowUp(id), permitFollowUp(now - 2000));
      for (const [label, ms] of [
        ['1s', 1000],
        ['2s', 2000],
      ] as const)
        tx.zadd(keys.outcomeDue, now - 2000 + ms, dueSample(id, { label, ms }));
    }
    await tx.exec();
    // 50 a tick: the 400 samples take eight ticks, each with its connections killed meanwhile.
    runtime = await startRuntime(redis.url, { HANDLERS: 'outcome-sweep', OUTCOME_SWEEP_SEC: '1', OUTCOME_SWEEP_MAX: '50' }, [outcomeSweep]);
    // Killed every 150 ms while the first half of the backlog is taken, at most 40 times: faults
    // through the ticks, then recovery by itself. Killing until the end made progress hang on the
    // machine's speed: on CI's loaded machine no tick outran the next kill (60 s, nothing taken).
    let kills = 0;
    let rounds = 0;
    const killer = setInterval(() => {
      if (rounds >= 40) return;
      rounds++;
      void r.zcard(keys.outcomeDue).then((left) => (left > decisions ? killGateConnections(r).then((n) => (kills += n)) : undefined));
    }, 150);
    try {
      await untilKeys(r, [keys.outcomeDue], async () => (await r.zcard(keys.outcomeDue)) === 0, {
        what: 'the due set emptied',
        timeoutMs: 60_000,
      });
    } finally {
      clearInterval(killer);
    }
    const samples = await readStream(r, streams.gatesOutcome);
    const taken = samples.map((s) => `${s.decision_id} ${s.horizon}`);
    expect(new Set(taken).size).toBe(taken.length);
    expect(taken).toHaveLength(2 * decisions);
    expect(kills).toBeGreaterThan(0);
  }, 90_000);
});
