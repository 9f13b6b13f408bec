import { afterEach, describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { governorOutcomes } from '../../handlers/outcomes/governor-follow-up.js';
import { heatOutcomes } from '../../handlers/outcomes/heat-follow-up.js';
import { outcomeSample, outcomeSweep } from '../../handlers/outcomes/sample.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { outcomeEntrySchema, type Outcome } from '../../schemas/outcome.js';
import { ownTempDir } from '../support/own-dirs.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { runCli, runCliJson } from './cli-harness.js';
import { worldTime } from '../support/clock.js';
import { untilKeys, untilStreamLength } from '../support/until.js';
import { untilJobsFinished } from '../support/until-polls-b.js';

const handlers = [heatGate, governor, heatOutcomes, governorOutcomes, outcomeSample, outcomeSweep];

/**
 * A scripted run with the gates and the outcome follow-up on a real redis-server, horizons
 * shortened to 1 s and 2 s: prices move between the samples, and the outcome entries and the
 * report must match the hand computation in each test.
 */
describe('outcome follow-up of decisions that changed exposure', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const outcomes = async (): Promise<Outcome[]> =>
    (await readStream(redis.client, streams.gatesOutcome)).map((e) => outcomeEntrySchema.parse(e));
  // A move of the market, written with its time: prices follow the gates' rule (the freshest quote
  // within PRICE_MAX_AGE_SEC, handlers/positions/prices.ts), under which a market state of no time
  // only stands in when no timed quote is fresh (here the Position Ledger's hash is).
  const setPrice = (price: string) => redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', price, 'timestamp', String(Date.now()));
  const followUpRecorded = () =>
    untilKeys(redis.client, [keys.outcomePending], async () => (await redis.client.zcard(keys.outcomePending)) === 1, {
      what: 'the follow-up recorded',
    });

  async function arrange(): Promise<void> {
    await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
    // A long of 2 ETH as the Position Ledger writes it; no sigma, so heat is 0 (COLD).
    await redis.client.hset(
      keys.p33PositionSnapshot('ETHUSDT'),
      'position_amt',
      '2',
      'side',
      'LONG',
      'mark_price',
      '2000',
      'ts_epoch',
      String(Math.floor(Date.now() / 1000)),
    );
    await setPrice('2000');
  }

  it.each(['shadow', 'enforce'])('%s mode: a FULL_CLOSE → PARTIAL_25 downgrade is marked to market at each horizon', async (mode) => {
    await arrange();
    runtime = await startRuntime(
      redis.url,
      {
        HANDLERS: 'heat-gate,outcome-heat,outcome-sweep,outcome-sample',
        OUTCOME_SWEEP_SEC: '1',
        P26_MODE: mode,
        // Two seconds apart: the sweep (every second) takes the first before the price moves for the second.
        OUTCOME_HORIZONS: '1s,3s',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      },
      handlers,
    );
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'o1', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await followUpRecorded();
    await setPrice('2100'); // +5 % before the 1 s sample
    await untilStreamLength(redis.client, streams.gatesOutcome, 1, { what: 'the 1 s sample' });
    await setPrice('1800'); // −10 % before the 3 s sample
    await untilStreamLength(redis.client, streams.gatesOutcome, 2, { what: 'the 3 s sample' });

    // Kept open: 75 % of 2 × 2000 = $3,000 long. 1 s: 3000 × 5 % = +150; 3 s: 3000 × −10 % = −300.
    const [first, second] = await outcomes();
    expect(first).toMatchObject({
      horizon: '1s',
      kind: 'heat_downgrade',
      mode,
      bucket: 'COLD',
      exposure_usd: 3000,
      entry_price: 2000,
      price: 2100,
      pnl_usd: 150,
      worst_pnl_usd: 150,
    });
    expect(second).toMatchObject({ horizon: '3s', price: 1800, pnl_usd: -300, worst_pnl_usd: -300 });

    const report = await runCliJson<{
      horizons: { horizon: string; overall: { decisions: number; totalPnlUsd: number; worstPnlUsd: number } }[];
      verdict: string;
    }>(['report', 'outcomes', '--since', '1h'], { REDIS_URL: redis.url });
    expect(report.horizons.map((h) => [h.horizon, h.overall.decisions, h.overall.totalPnlUsd, h.overall.worstPnlUsd])).toEqual([
      ['1s', 1, 150, 150],
      ['3s', 1, -300, -300],
    ]);
    expect(report.verdict).toMatch(/at 3s the decisions changed PnL by −\$300/);
  });

  it('report outcomes right after a decision says its follow-ups are due, and when, before any sample is taken', async () => {
    await arrange();
    const env = { OUTCOME_HORIZONS: '1m,1h' };
    runtime = await startRuntime(
      redis.url,
      { HANDLERS: 'heat-gate,outcome-heat,outcome-sweep,outcome-sample', OUTCOME_SWEEP_SEC: '1', ...env },
      handlers,
    );
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'due1', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await followUpRecorded();
    const [, lastDue] = await redis.client.zrange(keys.outcomePending, 0, '0', 'WITHSCORES');
    const decidedAt = Number(lastDue) - 3_600_000;
    const utc = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

    const text = await runCli(['report', 'outcomes', '--since', '1h'], { REDIS_URL: redis.url, ...env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('all gates together: no priced outcome yet');
    expect(text.stdout).toContain(
      `follow-ups due: 1 decision is followed, with samples at 1m, 1h after each; the next at ${utc(decidedAt + 60_000)}, the last at ${utc(decidedAt + 3_600_000)}.`,
    );
    const json = await runCliJson<{ samples: number; pending: unknown }>(['report', 'outcomes', '--since', '1h'], {
      REDIS_URL: redis.url,
      ...env,
    });
    expect(json).toMatchObject({
      samples: 0,
      pending: { decisions: 1, horizons: ['1m', '1h'], next_due: decidedAt + 60_000, last_due: decidedAt + 3_600_000 },
    });
  });

  it('a blocked open is followed as the PnL it did not make, and a missing price is recorded as missing', async () => {
    await arrange();
    runtime = await startRuntime(
      redis.url,
      { HANDLERS: 'governor,outcome-governor,outcome-sweep,outcome-sample', OUTCOME_SWEEP_SEC: '1', OUTCOME_HORIZONS: '1s,3s' },
      handlers,
    );
    // 0.5 ETH at 2,000 = $1,000 > the $200 per-trade cap: blocked.
    await redis.client.xadd(
      streams.applyPlan,
      '*',
      'plan_id',
      'b1',
      'symbol',
      'ETHUSDT',
      'action',
      'OPEN_LONG',
      'side',
      'BUY',
      'qty',
      '0.5',
      'decision',
      'EXECUTE',
    );
    await followUpRecorded();
    await setPrice('2200');
    await untilStreamLength(redis.client, streams.gatesOutcome, 1, { what: 'the 1 s sample' });
    await redis.client.del(keys.marketState('ETHUSDT'), keys.p33PositionSnapshot('ETHUSDT'));
    await untilStreamLength(redis.client, streams.gatesOutcome, 2, { what: 'the 3 s sample' });
    const [first, second] = await outcomes();
    // The open would have made 1000 × 10 % = $100; the block's difference is −$100.
    expect(first).toMatchObject({ kind: 'governor_block', exposure_usd: -1000, pnl_usd: -100 });
    expect(second).toMatchObject({ price: undefined, pnl_usd: undefined, worst_pnl_usd: -100 });
    const raw = (await readStream(redis.client, streams.gatesOutcome))[1]!;
    expect(raw).toMatchObject({ price_missing: '1', pnl_usd: '' });
  });

  it('a sample job delivered twice writes one sample', async () => {
    await arrange();
    runtime = await startRuntime(
      redis.url,
      { HANDLERS: 'heat-gate,outcome-heat,outcome-sweep,outcome-sample', OUTCOME_SWEEP_SEC: '1', OUTCOME_HORIZONS: '1s,2s' },
      handlers,
    );
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'o2', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await untilStreamLength(redis.client, streams.gatesOutcome, 2, { what: 'both samples' });
    const [id] = await redis.client.zrange(keys.outcomePending, 0, '-1');
    // The same job again, under a new job id (as a replay or a second scheduler would bring it).
    await runtime.services.jobs.add([
      { queue: 'gates-outcome', name: 'outcome-sample', data: { id: id!, horizon: '1s', horizon_ms: 1000 }, delayMs: 0, jobId: 'again' },
    ]);
    await untilJobsFinished(runtime.services.jobs.queue('gates-outcome'), ['again']);
    expect(await outcomes()).toHaveLength(2);
  });

  it('report outcomes --replay computes the same figures offline from the dump', async () => {
    await arrange();
    runtime = await startRuntime(
      redis.url,
      { HANDLERS: 'heat-gate,outcome-heat,outcome-sweep,outcome-sample', OUTCOME_SWEEP_SEC: '1', OUTCOME_HORIZONS: '1s,2s' },
      handlers,
    );
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'o3', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await followUpRecorded();
    await setPrice('2050');
    await untilStreamLength(redis.client, streams.gatesOutcome, 2, { what: 'both samples' });
    const env = { REDIS_URL: redis.url };
    const dump = await runCli(['report', 'outcomes', '--since', '1h', '--dump'], env);
    expect(dump.code).toBe(0);
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(ownTempDir('qg-outcomes-'), 'dump.jsonl');
    writeFileSync(file, dump.stdout);
    const live = await runCliJson<{ horizons: unknown[]; verdict: string }>(['report', 'outcomes', '--since', '1h'], env);
    const offline = await runCliJson<{ horizons: unknown[]; verdict: string }>(
      ['report', 'outcomes', '--replay', file, '--horizons', '1s,2s'],
      {},
    );
    expect(offline.horizons).toEqual(live.horizons);
    expect(offline.verdict).toBe(live.verdict);
  });

  it('the outcome handlers down 12 s while the mark moves 100 → 110: 20 downgrades are followed from 100, and say they were read late', async () => {
    await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
    const since = Date.now();
    // 2 units long at 100 (Position Ledger), the market at 100.
    await redis.client.hset(
      keys.p33PositionSnapshot('ETHUSDT'),
      'position_amt',
      '2',
      'side',
      'LONG',
      'mark_price',
      '100',
      'ts_epoch',
      String(Math.floor(since / 1000)),
    );
    await setPrice('100');
    const env = { OUTCOME_HORIZONS: '15s,16s', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' };
    runtime = await startRuntime(redis.url, { ...env, HANDLERS: 'heat-gate' }, handlers);
    await produce(
      redis.client,
      streams.harvestProposal,
      Array.from({ length: 20 }, (_, i) => ({ plan_id: `out${i}`, symbol: 'ETHUSDT', action: 'FULL_CLOSE' })),
    );
    await untilStreamLength(redis.client, streams.heatDecision, 20, { what: '20 decisions' });
    await setPrice('110');
    // The outcome handlers start 12 s after the decisions: their clock is 12 s ahead of the heat
    // gate's, as after a 12 s outage, with nothing (the price included) written in between.
    const followers = await startRuntime(
      redis.url,
      { ...env, HANDLERS: 'outcome-heat,outcome-sweep,outcome-sample', OUTCOME_SWEEP_SEC: '1' },
      handlers,
      {
        ...worldTime(() => Date.now() + 12_000),
      },
    );
    try {
      await untilStreamLength(redis.client, streams.gatesOutcome, 40, { what: '40 samples', timeoutMs: 30_000 });
    } finally {
      await followers.stop();
    }
    // Kept open: 75 % of 2 × 100 = $150, at 110: +$15 each, at both horizons.
    const samples = await outcomes();
    expect(samples.map((o) => [o.entry_price, o.price, o.pnl_usd, o.entry_source, o.read_late])).toEqual(
      Array.from({ length: 40 }, () => [100, 110, 15, 'decision', true]),
    );
    expect(samples.every((o) => o.followed_at !== undefined && o.followed_at - o.decided_at >= 12_000)).toBe(true);
    const report = await runCliJson<{
      horizons: { horizon: string; overall: { decisions: number; totalPnlUsd: number; readLate: number } }[];
    }>(['report', 'outcomes', '--since', '1h'], { REDIS_URL: redis.url });
    expect(report.horizons.map((h) => [h.horizon, h.overall.decisions, h.overall.totalPnlUsd, h.overall.readLate])).toEqual([
      ['15s', 20, 300, 20],
      ['16s', 20, 300, 20],
    ]);
  }, 60_000);

  it('OUTCOME_MAX_PENDING=50 holds against a burst of 400 decisions shared by two replicas', async () => {
    await arrange();
    const env = {
      HANDLERS: 'outcome-heat',
      OUTCOME_MAX_PENDING: '50',
      OUTCOME_HORIZONS: '1h',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    };
    runtime = await startRuntime(redis.url, env, handlers);
    const second = await startRuntime(redis.url, env, handlers);
    try {
      // Downgrades as the heat gate writes them (schemas/heat-gate.ts), each with its mark and position.
      await produce(
        redis.client,
        streams.heatDecision,
        Array.from({ length: 400 }, (_, i) => ({
          ts_epoch: String(Math.floor(Date.now() / 1000)),
          symbol: 'ETHUSDT',
          plan_id: `burst${i}`,
          in_action: 'FULL_CLOSE',
          out_action: 'PARTIAL_25',
          heat_level: 'cold',
          mode: 'shadow',
          debug_json: '{"mark":2000,"position_usd":4000}',
        })),
      );
      const handled = async () =>
        (await metricSum(runtime!, 'quantum_gates_outcome_followups_total')) +
        (await metricSum(second, 'quantum_gates_outcome_followups_total')) +
        (await metricSum(runtime!, 'quantum_gates_outcome_skipped_total')) +
        (await metricSum(second, 'quantum_gates_outcome_skipped_total'));
      await waitFor(async () => (await handled()) === 400, { what: 'all 400 decisions handled', timeoutMs: 30_000 });
      expect(await redis.client.zcard(keys.outcomePending)).toBe(50);
      const recorded =
        (await metricSum(runtime, 'quantum_gates_outcome_followups_total')) +
        (await metricSum(second, 'quantum_gates_outcome_followups_total'));
      const skipped =
        (await metricSum(runtime, 'quantum_gates_outcome_skipped_total', { reason: 'max_pending' })) +
        (await metricSum(second, 'quantum_gates_outcome_skipped_total', { reason: 'max_pending' }));
      expect([recorded, skipped]).toEqual([50, 350]);
    } finally {
      await second.stop();
    }
  }, 60_000);
  it('report outcomes counts the decisions it never followed and names each by its reason', async () => {
    // Decisions as the heat gate and the governor record them (handlers/heat-gate/outputs.ts
    // debugJson, handlers/governor/record.ts), in the window, with no outcome handler running:
    // none is followed. Kept decisions and permits are not expected to be.
    const now = Date.now();
    const heat = (planId: string, out: string, debug: object) =>
      redis.client.xadd(
        streams.heatDecision,
        '*',
        'plan_id',
        planId,
        'symbol',
        'ETHUSDT',
        'in_action',
        'FULL_CLOSE',
        'out_action',
        out,
        'decided_at_ms',
        String(now - 60_000),
        'debug_json',
        JSON.stringify(debug),
      );
    await heat('h1', 'PARTIAL_25', { heat: 0.1, mark: null });
    await heat('h2', 'PARTIAL_25', { heat: 0.1, mark: 2000, mark_source: 'position_ledger', position_usd: 4000 });
    await heat('h3', 'FULL_CLOSE', { heat: 0.9, mark: 2000 });
    const block = (planId: string, side: string) =>
      redis.client.xadd(
        streams.governorEvents,
        '*',
        'event',
        'block',
        'kind',
        'open',
        'plan_id',
        planId,
        'symbol',
        'BTCUSDT',
        'action',
        'OPEN_LONG',
        'decision',
        'BLOCK',
        'side',
        side,
        'source_id',
        's',
        'timestamp',
        String((now - 60_000) / 1000),
        'reason',
        'symbol_cooldown',
        'computed_notional',
        '500',
      );
    await block('g1', 'BUY');
    await block('g2', '');
    const report = await runCliJson<{ unfollowed: { decisions: number; notFollowed: number; byReason: Record<string, number> } }>(
      ['report', 'outcomes', '--since', '1h', '--json'],
      { REDIS_URL: redis.url },
    );
    expect(report.unfollowed).toEqual({ decisions: 4, notFollowed: 4, byReason: { no_price: 1, not_recorded: 2, no_side: 1 } });
    const text = await runCli(['report', 'outcomes', '--since', '1h'], { REDIS_URL: redis.url });
    expect(text.stdout).toContain(
      "not followed: 4 of the window's 4 decisions that changed exposure have no outcome: 2 not_recorded (no follow-up recorded:",
    );
    expect(text.stdout).toContain('1 no_price (no fresh price when the gate decided); 1 no_side (no side (long or short) to value it by).');
  });
});
