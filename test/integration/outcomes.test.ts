import { afterEach, describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { governorOutcomes } from '../../handlers/outcomes/governor-follow-up.js';
import { heatOutcomes } from '../../handlers/outcomes/heat-follow-up.js';
import { outcomeSample } from '../../handlers/outcomes/sample.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { outcomeEntrySchema, type Outcome } from '../../schemas/outcome.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { runCli, runCliJson } from './cli-harness.js';

const handlers = [heatGate, governor, heatOutcomes, governorOutcomes, outcomeSample];

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
  const setPrice = (price: string) => redis.client.hset(keys.marketState('ETHUSDT'), 'mark_price', price);

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
        HANDLERS: 'heat-gate,outcome-heat,outcome-sample',
        P26_MODE: mode,
        OUTCOME_HORIZONS: '1s,2s',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      },
      handlers,
    );
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'o1', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await waitFor(async () => (await redis.client.zcard(keys.outcomePending)) === 1, { what: 'the follow-up recorded' });
    await setPrice('2100'); // +5 % before the 1 s sample
    await waitFor(async () => (await outcomes()).length === 1, { what: 'the 1 s sample' });
    await setPrice('1800'); // −10 % before the 2 s sample
    await waitFor(async () => (await outcomes()).length === 2, { what: 'the 2 s sample' });

    // Kept open: 75 % of 2 × 2000 = $3,000 long. 1 s: 3000 × 5 % = +150; 2 s: 3000 × −10 % = −300.
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
    expect(second).toMatchObject({ horizon: '2s', price: 1800, pnl_usd: -300, worst_pnl_usd: -300 });

    const report = await runCliJson<{
      horizons: { horizon: string; overall: { decisions: number; totalPnlUsd: number; worstPnlUsd: number } }[];
      verdict: string;
    }>(['report', 'outcomes', '--since', '1h'], { REDIS_URL: redis.url });
    expect(report.horizons.map((h) => [h.horizon, h.overall.decisions, h.overall.totalPnlUsd, h.overall.worstPnlUsd])).toEqual([
      ['1s', 1, 150, 150],
      ['2s', 1, -300, -300],
    ]);
    expect(report.verdict).toMatch(/at 2s the decisions changed PnL by −\$300/);
  });

  it('a blocked open is followed as the PnL it did not make, and a missing price is recorded as missing', async () => {
    await arrange();
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor,outcome-governor,outcome-sample', OUTCOME_HORIZONS: '1s,2s' }, handlers);
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
    await waitFor(async () => (await redis.client.zcard(keys.outcomePending)) === 1, { what: 'the follow-up recorded' });
    await setPrice('2200');
    await waitFor(async () => (await outcomes()).length === 1, { what: 'the 1 s sample' });
    await redis.client.del(keys.marketState('ETHUSDT'), keys.p33PositionSnapshot('ETHUSDT'));
    await waitFor(async () => (await outcomes()).length === 2, { what: 'the 2 s sample' });
    const [first, second] = await outcomes();
    // The open would have made 1000 × 10 % = $100; the block's difference is −$100.
    expect(first).toMatchObject({ kind: 'governor_block', exposure_usd: -1000, pnl_usd: -100 });
    expect(second).toMatchObject({ price: undefined, pnl_usd: undefined, worst_pnl_usd: -100 });
    const raw = (await readStream(redis.client, streams.gatesOutcome))[1]!;
    expect(raw).toMatchObject({ price_missing: '1', pnl_usd: '' });
  });

  it('a sample job delivered twice writes one sample', async () => {
    await arrange();
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate,outcome-heat,outcome-sample', OUTCOME_HORIZONS: '1s,2s' }, handlers);
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'o2', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await waitFor(async () => (await outcomes()).length === 2, { what: 'both samples' });
    const [id] = await redis.client.zrange(keys.outcomePending, 0, -1);
    // The same job again, under a new job id (as a replay or a second scheduler would bring it).
    await runtime.services.jobs.add([
      { queue: 'gates-outcome', name: 'outcome-sample', data: { id: id!, horizon: '1s', horizon_ms: 1000 }, delayMs: 0, jobId: 'again' },
    ]);
    await waitFor(async () => (await runtime!.services.jobs.queue('gates-outcome').getJobState('again')) === 'completed', {
      what: 'the duplicate job done',
    });
    expect(await outcomes()).toHaveLength(2);
  });

  it('report outcomes --replay computes the same figures offline from the dump', async () => {
    await arrange();
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate,outcome-heat,outcome-sample', OUTCOME_HORIZONS: '1s,2s' }, handlers);
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'o3', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await waitFor(async () => (await redis.client.zcard(keys.outcomePending)) === 1, { what: 'the follow-up recorded' });
    await setPrice('2050');
    await waitFor(async () => (await outcomes()).length === 2, { what: 'both samples' });
    const env = { REDIS_URL: redis.url };
    const dump = await runCli(['report', 'outcomes', '--since', '1h', '--dump'], env);
    expect(dump.code).toBe(0);
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'qg-outcomes-')), 'dump.jsonl');
    writeFileSync(file, dump.stdout);
    const live = await runCliJson<{ horizons: unknown[]; verdict: string }>(['report', 'outcomes', '--since', '1h'], env);
    const offline = await runCliJson<{ horizons: unknown[]; verdict: string }>(
      ['report', 'outcomes', '--replay', file, '--horizons', '1s,2s'],
      {},
    );
    expect(offline.horizons).toEqual(live.horizons);
    expect(offline.verdict).toBe(live.verdict);
  });
});
