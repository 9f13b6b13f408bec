import { describe, expect, it } from 'vitest';
import { governorOutcomes } from '../../handlers/outcomes/governor-follow-up.js';
import { heatOutcomes } from '../../handlers/outcomes/heat-follow-up.js';
import { parseOutcomeConfig } from '../../handlers/outcomes/config.js';
import { parseHorizons } from '../../handlers/outcomes/horizons.js';
import { closedFraction, keptExposure, markToMarket, sideSign } from '../../handlers/outcomes/pnl.js';
import { outcomeSample, outcomeSweep } from '../../handlers/outcomes/sample.js';
import { keys, streams } from '../../schemas/keys.js';
import { outcomeEntrySchema, type Outcome } from '../../schemas/outcome.js';
import { aggregateOutcomes, drawdownAndRunUp, median } from '../../cli/report/outcomes.js';
import { blockInterval } from '../../domain/time-blocks.js';
import { formatOutcomesCsv } from '../../cli/report/outcomes-format.js';
import { dumpOf, parseDump, replayOutcomes } from '../../cli/report/outcomes-replay.js';
import { dueSamples, runHandler, withoutJobDone } from '../support/fake-ctx.js';
import type { FakeRedisData } from '../support/fake-redis-reader.js';

const NOW = 1_800_000_000_000;
const ETH_LONG: FakeRedisData = {
  hashes: {
    [keys.p33PositionSnapshot('ETHUSDT')]: { position_amt: '2', side: 'LONG', mark_price: '2000', ts_epoch: '1800000000' },
    [keys.marketState('ETHUSDT')]: { mark_price: '2000' },
  },
};

describe('counterfactual arithmetic', () => {
  it.each([
    ['FULL_CLOSE', 'PARTIAL_25', 4000, 1, 3000],
    ['FULL_CLOSE', 'PARTIAL_75', 4000, 1, 1000],
    ['FULL_CLOSE', 'PARTIAL_25', 4000, -1, -3000],
    ['PARTIAL_75', 'PARTIAL_25', 1000, 1, 500],
  ] as const)('%s → %s of $%d (side %d) keeps $%d open', (proposed, calibrated, notional, side, kept) => {
    expect(keptExposure(proposed, calibrated, notional, side)).toBe(kept);
  });

  it('keeps nothing when the calibration closes as much or the actions are not closes', () => {
    expect(keptExposure('PARTIAL_25', 'PARTIAL_25', 1000, 1)).toBeUndefined();
    expect(keptExposure('OPEN_LONG', 'PARTIAL_25', 1000, 1)).toBeUndefined();
    expect(closedFraction('PARTIAL_0')).toBeUndefined();
  });

  it('marks to market from the entry price; a missing or unusable price is no figure, never zero', () => {
    expect(markToMarket(3000, 2000, 2100)).toBeCloseTo(150, 9);
    expect(markToMarket(-3000, 2000, 2100)).toBeCloseTo(-150, 9);
    expect(markToMarket(3000, 2000, undefined)).toBeUndefined();
    expect(markToMarket(3000, 2000, 0)).toBeUndefined();
    expect(markToMarket(3000, 0, 2100)).toBeUndefined();
  });

  it('reads sides as the pipeline spells them', () => {
    expect([sideSign('LONG'), sideSign('buy'), sideSign(' SHORT '), sideSign('SELL'), sideSign('flat'), sideSign(undefined)]).toEqual([
      1,
      1,
      -1,
      -1,
      undefined,
      undefined,
    ]);
  });

  it('stops the start on a sweep as slow as the late bound, naming the variable', () => {
    expect(() => parseOutcomeConfig({ OUTCOME_SWEEP_SEC: '5' })).toThrow(
      /OUTCOME_SWEEP_SEC: must be below OUTCOME_LATE_SEC \(5\) \(got "5"\)/,
    );
    expect(parseOutcomeConfig({ OUTCOME_SWEEP_SEC: '9', OUTCOME_LATE_SEC: '10' }).OUTCOME_SWEEP_SEC).toBe(9);
  });

  it('parses horizons strictly, shortest first', () => {
    expect(parseHorizons('5m,1h,4h').map((h) => h.ms)).toEqual([300_000, 3_600_000, 14_400_000]);
    expect(() => parseHorizons('1h,5m')).toThrow(/shortest first/);
    expect(() => parseHorizons('5 minutes')).toThrow(/not a duration/);
    expect(() => parseHorizons('0x10m')).toThrow(/not a duration/);
  });
});

describe('following a heat downgrade (fake ctx)', () => {
  const decision = {
    plan_id: 'p1',
    symbol: 'ETHUSDT',
    in_action: 'FULL_CLOSE',
    out_action: 'PARTIAL_25',
    heat_level: 'COLD',
    mode: 'shadow',
  };

  it('records the kept exposure and entry price in the decision’s commit, and one sample due per horizon', async () => {
    const run = await runHandler(heatOutcomes, decision, {
      redis: ETH_LONG,
      now: NOW,
      meta: { id: `${NOW - 40}-0`, producedAt: NOW - 40 },
    });
    const id = `heat:${NOW - 40}-0`;
    const put = run.recorder.effects.find((e) => e.op === 'putHash');
    expect(put).toMatchObject({
      key: keys.outcomeFollowUp(id),
      fields: { exposure_usd: '3000', entry_price: '2000', bucket: 'COLD', mode: 'shadow', decided_at: String(NOW - 40) },
    });
    // Due at the decision's horizons, each one member of the due set however often the decision is read.
    expect(run.recorder.jobs).toEqual([]);
    expect(dueSamples(run.recorder.effects, NOW)).toEqual([
      ['5m', 300_000 - 40],
      ['1h', 3_600_000 - 40],
      ['4h', 14_400_000 - 40],
    ]);
    expect(run.recorder.effects.find((e) => e.op === 'addToSortedSet' && e.key === keys.outcomeDue)).toMatchObject({
      member: JSON.stringify({ id, horizon: '5m', horizon_ms: 300_000 }),
    });
    expect(run.metrics.get('quantum_gates_outcome_followups_total', { kind: 'heat_downgrade' })).toBe(1);
  });

  it('follows nothing for a decision that kept the proposal', async () => {
    const run = await runHandler(heatOutcomes, { ...decision, out_action: 'FULL_CLOSE' }, { redis: ETH_LONG, now: NOW });
    expect(run.recorder.effects).toEqual([]);
  });

  it('skips and counts a downgrade it cannot price, and everything beyond OUTCOME_MAX_PENDING', async () => {
    const noPrice = await runHandler(heatOutcomes, decision, {
      redis: { hashes: { [keys.p33PositionSnapshot('ETHUSDT')]: { position_amt: '2', side: 'LONG', ts_epoch: '1800000000' } } },
      now: NOW,
    });
    expect(noPrice.metrics.get('quantum_gates_outcome_skipped_total', { kind: 'heat_downgrade', reason: 'no_price' })).toBe(1);
    const full = await runHandler(heatOutcomes, decision, {
      redis: { ...ETH_LONG, sortedSets: { [keys.outcomePending]: { a: NOW + 10, b: NOW + 20 } } },
      env: { OUTCOME_MAX_PENDING: '2' },
      now: NOW,
    });
    expect(full.recorder.effects).toEqual([]);
    expect(full.metrics.get('quantum_gates_outcome_skipped_total', { kind: 'heat_downgrade', reason: 'max_pending' })).toBe(1);
  });
});

describe('following a governor block of an open (fake ctx)', () => {
  it('records minus the open’s exposure: the difference the block made', async () => {
    const run = await runHandler(
      governorOutcomes,
      // A block event as the governor writes it (schemas/governor-event.ts).
      {
        event: 'block',
        kind: 'open',
        plan_id: 'g1',
        symbol: 'ETHUSDT',
        side: 'BUY',
        action: 'OPEN_LONG',
        decision: 'EXECUTE',
        source_id: '1-0',
        timestamp: '1800000000.0',
        reason: 'total_notional_exceeded',
        computed_notional: '1000',
      },
      { redis: ETH_LONG, now: NOW },
    );
    expect(run.recorder.effects.find((e) => e.op === 'putHash')).toMatchObject({
      fields: { exposure_usd: '-1000', decided_action: 'BLOCK', kind: 'governor_block' },
    });
  });

  it('ignores permits and blocked closes', async () => {
    for (const event of [
      { event: 'permit', kind: 'open', plan_id: 'g1', symbol: 'ETHUSDT', side: 'BUY' },
      { event: 'block', kind: 'close', plan_id: 'g2', symbol: 'ETHUSDT', side: 'SELL' },
    ]) {
      const run = await runHandler(governorOutcomes, event, { redis: ETH_LONG, now: NOW });
      expect(run.recorder.effects).toEqual([]);
    }
  });
});

describe('an outcome sample (fake ctx)', () => {
  const id = 'heat:1-0';
  const record = {
    kind: 'heat_downgrade',
    symbol: 'ETHUSDT',
    plan_id: 'p1',
    bucket: 'COLD',
    mode: 'shadow',
    proposed_action: 'FULL_CLOSE',
    decided_action: 'PARTIAL_25',
    exposure_usd: '3000',
    entry_price: '2000',
    decided_at: String(NOW - 300_000),
  };
  const job = { id, horizon: '5m', horizon_ms: '300000' };
  const sampleOf = (run: Awaited<ReturnType<typeof runHandler>>) => outcomeEntrySchema.parse(run.emitted(streams.gatesOutcome)[0]);

  it('writes the PnL of the difference at the price now, once (its sample key guarded at commit)', async () => {
    const run = await runHandler(outcomeSample, job, {
      redis: { hashes: { [keys.outcomeFollowUp(id)]: record, [keys.marketState('ETHUSDT')]: { mark_price: '2100' } } },
      now: NOW,
    });
    expect(sampleOf(run)).toMatchObject({
      decision_id: id,
      horizon: '5m',
      price: 2100,
      pnl_usd: 150,
      worst_pnl_usd: 150,
      exposure_usd: 3000,
    });
    expect(run.recorder.guards).toEqual([
      { kind: 'absent', key: keys.outcomeSample(id, '5m') },
      // and the job's own done record, which every job's commit writes
      { kind: 'absent', key: expect.stringMatching(/^quantum:gates:job-done:gates-outcome:/) },
    ]);
  });

  it('refuses a quote stamped ahead beyond the skew: priced at the others, the refused one counted by source and logged', async () => {
    // The price feed's ticker (microservices/price_feed at 73fab1f55, `publish_price`) stamped 10 min ahead.
    const ahead = { markPrice: '1', timestamp: String(NOW + 600_000) };
    const run = await runHandler(outcomeSample, job, {
      redis: {
        hashes: {
          [keys.outcomeFollowUp(id)]: record,
          [keys.marketState('ETHUSDT')]: { mark_price: '2100' },
          [keys.ticker('ETHUSDT')]: ahead,
        },
      },
      now: NOW,
    });
    expect(sampleOf(run)).toMatchObject({ price: 2100, pnl_usd: 150 });
    expect(run.metrics.get('quantum_gates_outcome_price_quotes_refused_total', { source: 'ticker', reason: 'future' })).toBe(1);
    expect(run.logs.find((l) => l.msg?.includes('PRICE_MAX_SKEW_SEC'))?.obj).toMatchObject({
      symbol: 'ETHUSDT',
      source: 'ticker',
      ahead_ms: 600_000,
    });
  });

  it('writes nothing for a job delivered again after its sample was written', async () => {
    const run = await runHandler(outcomeSample, job, {
      redis: {
        hashes: { [keys.outcomeFollowUp(id)]: record, [keys.marketState('ETHUSDT')]: { mark_price: '2100' } },
        strings: { [keys.outcomeSample(id, '5m')]: '1' },
      },
      now: NOW,
    });
    expect(withoutJobDone(run.recorder.effects)).toEqual([]);
  });

  it('records a missing price as missing, and keeps the worst excursion of the earlier samples', async () => {
    const run = await runHandler(
      outcomeSample,
      { ...job, horizon: '1h', horizon_ms: '3600000' },
      { redis: { hashes: { [keys.outcomeFollowUp(id)]: { ...record, worst_pnl_usd: '-300' } } }, now: NOW },
    );
    const raw = run.emitted(streams.gatesOutcome)[0]!;
    expect(raw).toMatchObject({ price: '', price_missing: '1', pnl_usd: '', worst_pnl_usd: '-300' });
    expect(run.metrics.get('quantum_gates_outcome_samples_total', { horizon: '1h', priced: '0' })).toBe(1);
  });
});

describe('the outcome sweep (fake ctx)', () => {
  const record = (symbol: string, exposure: string, decidedAt: number) => ({
    kind: 'heat_downgrade',
    symbol,
    plan_id: 'p1',
    bucket: 'COLD',
    mode: 'shadow',
    proposed_action: 'FULL_CLOSE',
    decided_action: 'PARTIAL_25',
    exposure_usd: exposure,
    entry_price: '2000',
    decided_at: String(decidedAt),
  });
  const member = (id: string, horizon: string, ms: number) => JSON.stringify({ id, horizon, horizon_ms: ms });
  const removed = (run: Awaited<ReturnType<typeof runHandler>>) =>
    run.recorder.effects.flatMap((e) => (e.op === 'removeFromSortedSet' && e.key === keys.outcomeDue ? [e.member] : []));
  const samples = (run: Awaited<ReturnType<typeof runHandler>>) =>
    run.emitted(streams.gatesOutcome).map((e) => outcomeEntrySchema.parse(e));

  it('takes every sample due by now, oldest first, each guarded by its sample key and leaving the due set in the same commit', async () => {
    const [a, b] = ['heat:1-0', 'gov:2-0'];
    const due = {
      [member(a, '5m', 300_000)]: NOW - 3_600_000,
      // Both of a's horizons came due while no sweep ran (an outage): its worst P&L carries from one to the next.
      [member(a, '1h', 3_600_000)]: NOW - 300_000 + 0,
      [member(b, '5m', 300_000)]: NOW - 1_000,
      // Not due yet: left for a later sweep.
      [member(b, '1h', 3_600_000)]: NOW + 3_000_000,
    };
    const run = await runHandler(
      outcomeSweep,
      {},
      {
        redis: {
          hashes: {
            [keys.outcomeFollowUp(a)]: record('ETHUSDT', '3000', NOW - 3_900_000),
            [keys.outcomeFollowUp(b)]: record('BTCUSDT', '-1000', NOW - 301_000),
            [keys.marketState('ETHUSDT')]: { mark_price: '1900' },
            [keys.marketState('BTCUSDT')]: { mark_price: '2100' },
          },
          sortedSets: { [keys.outcomeDue]: due },
        },
        now: NOW,
      },
    );
    expect(samples(run).map((s) => [s.decision_id, s.horizon, s.price, s.pnl_usd, s.worst_pnl_usd])).toEqual([
      [a, '5m', 1900, -150, -150],
      [a, '1h', 1900, -150, -150],
      [b, '5m', 2100, -50, -50],
    ]);
    expect(removed(run)).toEqual([member(a, '5m', 300_000), member(a, '1h', 3_600_000), member(b, '5m', 300_000)]);
    expect(run.recorder.guards.filter((g) => g.key.startsWith('quantum:gates:outcome:'))).toEqual([
      { kind: 'absent', key: keys.outcomeSample(a, '5m') },
      { kind: 'absent', key: keys.outcomeSample(a, '1h') },
      { kind: 'absent', key: keys.outcomeSample(b, '5m') },
    ]);
    expect(run.metrics.get('quantum_gates_outcome_samples_total', { horizon: '5m', priced: '1' })).toBe(2);
  });

  it('only removes a sample already written (a job of before 1.11.0, or a tick run again), and one whose follow-up is gone or is no sample', async () => {
    const run = await runHandler(
      outcomeSweep,
      {},
      {
        redis: {
          hashes: {
            [keys.outcomeFollowUp('heat:1-0')]: record('ETHUSDT', '3000', NOW - 301_000),
            [keys.marketState('ETHUSDT')]: { mark_price: '2100' },
          },
          strings: { [keys.outcomeSample('heat:1-0', '5m')]: '1' },
          sortedSets: {
            [keys.outcomeDue]: {
              [member('heat:1-0', '5m', 300_000)]: NOW - 1_000,
              [member('heat:9-0', '5m', 300_000)]: NOW - 900,
              'not json': NOW - 800,
            },
          },
        },
        now: NOW,
      },
    );
    expect(samples(run)).toEqual([]);
    expect(removed(run)).toEqual(['not json', member('heat:1-0', '5m', 300_000), member('heat:9-0', '5m', 300_000)]);
    expect(run.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([expect.stringContaining('holds no sample'), expect.stringContaining('record expired or unreadable')]),
    );
  });

  it('writes one sample where two members stand for one sample key', async () => {
    const id = 'heat:1-0';
    const run = await runHandler(
      outcomeSweep,
      {},
      {
        redis: {
          hashes: { [keys.outcomeFollowUp(id)]: record('ETHUSDT', '3000', NOW - 301_000) },
          sortedSets: { [keys.outcomeDue]: { [member(id, '5m', 300_000)]: NOW - 1_000, [member(id, '5m', 300_001)]: NOW - 999 } },
        },
        now: NOW,
      },
    );
    expect(samples(run)).toHaveLength(1);
    expect(removed(run)).toHaveLength(2);
  });

  it('takes at most OUTCOME_SWEEP_MAX a tick, the oldest', async () => {
    const due = Object.fromEntries([0, 1, 2].map((i) => [member(`heat:${i}-0`, '5m', 300_000), NOW - 3_000 + i]));
    const hashes = Object.fromEntries(
      [0, 1, 2].map((i) => [keys.outcomeFollowUp(`heat:${i}-0`), record('ETHUSDT', '3000', NOW - 303_000 + i)]),
    );
    const run = await runHandler(
      outcomeSweep,
      {},
      { redis: { hashes, sortedSets: { [keys.outcomeDue]: due } }, now: NOW, env: { OUTCOME_SWEEP_MAX: '2' } },
    );
    expect(samples(run).map((s) => [s.decision_id, s.missing_reason])).toEqual([
      ['heat:0-0', 'no_price'],
      ['heat:1-0', 'no_price'],
    ]);
  });
});

/** A sample as the stream holds it, for the report's hand computations. */
function sample(decision: string, horizon: string, pnl: number | undefined, extra: Partial<Outcome> = {}): Outcome {
  return {
    decision_id: decision,
    kind: 'heat_downgrade',
    symbol: 'ETHUSDT',
    plan_id: decision,
    bucket: 'COLD',
    mode: 'shadow',
    proposed_action: 'FULL_CLOSE',
    decided_action: 'PARTIAL_25',
    horizon,
    horizon_sec: horizon === '5m' ? 300 : 3600,
    decided_at: Number(decision.replace(/\D/g, '')),
    sampled_at: 0,
    exposure_usd: 3000,
    entry_price: 2000,
    price: pnl === undefined ? undefined : 2000,
    pnl_usd: pnl,
    worst_pnl_usd: pnl,
    ...extra,
  };
}

describe('the outcomes report', () => {
  it('matches a hand computation: totals, median, worst, drawdown, missing prices left out', () => {
    const report = aggregateOutcomes([
      sample('d1', '1h', 100),
      sample('d2', '1h', -300, { bucket: 'WARM', symbol: 'BTCUSDT' }),
      sample('d3', '1h', 50),
      sample('d4', '1h', undefined),
      sample('d1', '1h', 999), // the same job twice: the first counts
    ]);
    const h = report.horizons[0]!;
    expect(h.overall).toMatchObject({
      decisions: 4,
      missingPrice: 1,
      totalPnlUsd: -150,
      medianPnlUsd: 50,
      worstPnlUsd: -300,
      maxDrawdownUsd: 300,
      maxRunUpUsd: 100,
    });
    expect(h.byBucket.COLD).toMatchObject({ decisions: 3, totalPnlUsd: 150 });
    expect(h.bySymbol.BTCUSDT).toMatchObject({ decisions: 1, totalPnlUsd: -300 });
    expect(report.verdict).toMatch(/^over 3 decisions \(3 downgrades\), at 1h the decisions changed PnL by −\$150/);
  });

  it('gives a block-bootstrap interval that is reproducible, and none where every outcome is the same', () => {
    const at = (i: number, pnlUsd: number) => ({ at: i * 60_000, horizonMs: 60_000, symbol: `S${i % 3}`, pnlUsd });
    expect(blockInterval(Array.from({ length: 300 }, (_, i) => at(i, 10))).interval90).toBeNull();
    const values = Array.from({ length: 300 }, (_, i) => at(i, [120, -80, 40, -300, 60, 10, 5, -20][i % 8]! + (i % 7)));
    const [lo, hi] = blockInterval(values).interval90!;
    expect(blockInterval(values).interval90).toEqual([lo, hi]);
    const total = values.reduce((a, v) => a + v.pnlUsd, 0);
    expect(lo).toBeLessThan(total);
    expect(hi).toBeGreaterThan(total);
  });

  it('computes drawdown and median by hand', () => {
    expect(drawdownAndRunUp([100, -50, -100, 200])).toEqual({ drawdown: 150, runUp: 200 });
    expect(median([3, 1, 2, 4])).toBe(2.5);
  });

  it('writes one CSV row per decision and horizon, with the JSON field names', () => {
    const csv = formatOutcomesCsv([sample('d1', '5m', 150), sample('d1', '1h', -300)])
      .trim()
      .split('\n');
    expect(csv[0]).toBe(
      'decision_id,kind,symbol,plan_id,bucket,mode,proposed_action,decided_action,horizon,decided_at,sampled_at,exposure_usd,entry_price,price,pnl_usd,worst_pnl_usd,' +
        // Added by issue #26, after the earlier columns (docs/outcomes.md)
        'entry_source,followed_at,read_late,sample_late,late_bound_sec,missing_reason,price_source,price_at,' +
        // Added by issue #40: how old each price was, and the entry price's own quote
        'price_age_ms,entry_price_source,entry_price_at,entry_price_age_ms',
    );
    expect(csv).toHaveLength(3);
    expect(csv[2]).toContain(',1h,');
  });
});

describe('the offline replay of a dump', () => {
  const horizons = parseHorizons('5m,1h');
  const decision = {
    type: 'decision' as const,
    decision_id: 'heat:1',
    kind: 'heat_downgrade',
    symbol: 'ETHUSDT',
    plan_id: 'p',
    bucket: 'COLD',
    mode: 'shadow',
    proposed_action: 'FULL_CLOSE',
    decided_action: 'PARTIAL_25',
    exposure_usd: 3000,
    entry_price: 2000,
    decided_at: 0,
  };
  const path = (points: [number, number][]) => points.map(([ts, price]) => ({ type: 'price' as const, symbol: 'ETHUSDT', ts, price }));

  it.each([
    [
      'up',
      [
        [300_000, 2100],
        [3_600_000, 2200],
      ],
      [150, 300],
      [150, 150],
    ],
    [
      'down',
      [
        [300_000, 1900],
        [3_600_000, 1800],
      ],
      [-150, -300],
      [-150, -300],
    ],
    [
      'V-shaped',
      [
        [300_000, 1800],
        [3_600_000, 2200],
      ],
      [-300, 300],
      [-300, -300],
    ],
    ['a gap (no price after 5m)', [[300_000, 2100]], [150, undefined], [150, 150]],
  ] as const)('%s: known PnL and worst excursion per horizon', (_name, points, pnls, worsts) => {
    const samples = replayOutcomes([decision], path(points as unknown as [number, number][]), horizons);
    expect(samples.map((s) => s.pnl_usd)).toEqual(pnls);
    expect(samples.map((s) => s.worst_pnl_usd)).toEqual(worsts);
    if (pnls[1] === undefined) expect(samples[1]).toMatchObject({ price: undefined });
  });

  it('gives the same samples back from the dump of what was recorded', () => {
    const recorded = replayOutcomes(
      [decision],
      path([
        [300_010, 2100],
        [3_600_020, 1800],
      ]),
      horizons,
    );
    const again = parseDump(dumpOf(recorded));
    expect(replayOutcomes(again.decisions, again.prices, horizons)).toEqual(recorded);
    expect(aggregateOutcomes(replayOutcomes(again.decisions, again.prices, horizons))).toEqual(aggregateOutcomes(recorded));
  });

  it('names the line of a dump it cannot read', () => {
    expect(() => parseDump('{"type":"price","symbol":"X","ts":1,"price":-1}\n')).toThrow(/^line 1: price/);
    expect(() => parseDump('\nnot json')).toThrow(/^line 2: not JSON/);
  });
});
