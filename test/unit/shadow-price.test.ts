import { describe, expect, it } from 'vitest';
import { PnlCollector } from '../../cli/report/calibrate-common.js';
import { formatPriced } from '../../cli/shadow/format.js';
import type { Pair } from '../../cli/shadow/pair.js';
import { priceDifferences, pricedKind } from '../../cli/shadow/price.js';
import type { Outcome } from '../../schemas/outcome.js';

const T0 = 1_795_700_000_000;
const MIN = 60_000;

function pair(gate: string, planId: string, incumbent: string, shadow: string, cls: Pair['class'] = 'unexplained'): Pair {
  return {
    gate,
    // The input's id, one per plan here: the shadow's own follow-up of it is named by it.
    id: `${T0}-${planId}`,
    input: planId,
    label: planId,
    planId,
    symbol: 'SOLUSDT',
    producedAt: T0,
    class: cls,
    incumbent,
    shadow,
    changes: cls === 'same' ? [] : [{ field: 'verdict', before: incumbent, after: shadow, class: 'verdict' }],
  };
}

function sample(planId: string, kind: string, pnl: number | undefined, at: number, extra: Partial<Outcome> = {}): Outcome {
  return {
    decision_id: `gov:${at}-0`,
    kind,
    symbol: 'SOLUSDT',
    plan_id: planId,
    bucket: '',
    mode: 'enforce',
    proposed_action: 'ENTRY_PROPOSED',
    decided_action: kind === 'governor_permit' ? 'permit' : 'block',
    horizon: '5m',
    horizon_sec: 300,
    decided_at: at,
    sampled_at: at + 5 * MIN,
    exposure_usd: 1000,
    entry_price: 150,
    price: pnl === undefined ? undefined : 150,
    pnl_usd: pnl,
    worst_pnl_usd: pnl,
    ...extra,
  };
}

const PERMIT = 'event=permit';
const BLOCK = 'event=block reason=notional_per_trade_exceeded';

describe('pricing the shadow verdict differences', () => {
  it('prices blocks of plans the incumbent permitted as minus what those opens made, without an interval on three decisions', () => {
    const pairs = [
      pair('governor', 'a', PERMIT, BLOCK),
      pair('governor', 'b', PERMIT, BLOCK),
      pair('governor', 'c', PERMIT, BLOCK, 'documented'),
    ];
    const samples = [
      sample('a', 'governor_permit', 10, T0),
      sample('b', 'governor_permit', 12, T0 + MIN),
      sample('c', 'governor_permit', 19, T0 + 2 * MIN),
    ];
    const [priced, ...rest] = priceDifferences(pairs, samples, ['5m']);
    expect(rest).toEqual([]);
    expect(priced).toMatchObject({ gate: 'governor', kind: 'would_block', differences: 3, plans: ['a', 'b', 'c'] });
    expect(priced!.pnl[0]).toMatchObject({ horizon: '5m', priced: 3, missingPrice: 0, noSample: 0, totalPnlUsd: -41, interval90: null });
    expect(priced!.pnl[0]!.warnings[0]).toMatch(/^not enough independent data/);
    const text = formatPriced([priced!], 10).join('\n');
    expect(text).toContain('the shadow would have blocked 3 plans the incumbent permitted (a, b, c)');
    expect(text).toContain('total -$41.00');
    expect(text).toContain('not enough independent data');
  });

  it("gives report calibrate's own interval once there are enough independent blocks of time", () => {
    const symbols = ['SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'ADAUSDT'];
    const pairs: Pair[] = [];
    const samples: Outcome[] = [];
    const expected = new PnlCollector('5m');
    for (let i = 0; i < 40; i++) {
      const at = T0 + i * 20 * MIN;
      const symbol = symbols[i % symbols.length]!;
      const pnl = ((i * 37) % 23) - 9;
      pairs.push(pair('governor', `p${i}`, BLOCK, PERMIT));
      samples.push(sample(`p${i}`, 'governor_block', pnl, at, { symbol }));
      expected.priced(at, symbol, -pnl, undefined, 1000);
    }
    const [priced] = priceDifferences(pairs, samples, ['5m']);
    expect(priced).toMatchObject({ kind: 'would_permit', differences: 40 });
    expect(priced!.pnl[0]!.interval90).not.toBeNull();
    expect(priced!.pnl[0]).toEqual(expected.result());
  });

  it('counts what it cannot price: no sample (a close is not followed, a sample of the wrong kind) and no price, never as 0', () => {
    const pairs = [
      pair('governor', 'close', PERMIT, BLOCK),
      pair('governor', 'odd', PERMIT, BLOCK),
      pair('governor', 'dark', PERMIT, BLOCK),
    ];
    const samples = [sample('odd', 'governor_block', 5, T0), sample('dark', 'governor_permit', undefined, T0)];
    const [priced] = priceDifferences(pairs, samples, ['5m', '1h']);
    expect(priced!.pnl.map((p) => [p.horizon, p.priced, p.noSample, p.missingPrice, p.totalPnlUsd])).toEqual([
      ['5m', 0, 2, 1, null],
      ['1h', 0, 3, 0, null],
    ]);
    expect(formatPriced([priced!], 10).join('\n')).toContain('no PnL known');
  });

  it("prices another calibrated action by scaling the incumbent's downgrade sample by the share it keeps open", () => {
    const pairs = [
      pair(
        'heat-gate',
        'h1',
        'calibrated_action=PARTIAL_25 reason=portfolio_heat_cold',
        'calibrated_action=PARTIAL_75 reason=portfolio_heat_warm',
      ),
      // The incumbent kept the proposal: nothing was followed.
      pair(
        'heat-gate',
        'h2',
        'calibrated_action=FULL_CLOSE_PROPOSED reason=non_full_close_unchanged',
        'calibrated_action=PARTIAL_25 reason=portfolio_heat_cold',
        'documented',
      ),
    ];
    const downgrade = sample('h1', 'heat_downgrade', 30, T0, {
      proposed_action: 'FULL_CLOSE',
      decided_action: 'PARTIAL_25',
      exposure_usd: 3000,
    });
    const [priced] = priceDifferences(pairs, [downgrade], ['5m']);
    expect(priced).toMatchObject({ gate: 'heat-gate', kind: 'would_calibrate_otherwise', differences: 2, plans: ['h1', 'h2'] });
    // FULL_CLOSE → PARTIAL_25 keeps 0.75 open, → PARTIAL_75 keeps 0.25: the shadow keeps a third as much, -2/3 of the sample.
    expect(priced!.pnl[0]).toMatchObject({ priced: 1, noSample: 1, totalPnlUsd: -20 });
  });

  it("prices from the shadow's own samples first (beside Python there is no other): a block as its sample, a permit as its sample", () => {
    const pairs = [
      pair('governor', 'blocked', PERMIT, BLOCK),
      pair('governor', 'permitted', 'event=block reason=symbol_cooldown', PERMIT),
      // Its own sample not come in yet at 1h, the incumbent's there: priced from that.
      pair('governor', 'both', PERMIT, BLOCK),
    ];
    // The shadow's block of `blocked`: minus what the open made (-7: the open made +7), its worst as sampled.
    const own = [
      sample('blocked', 'governor_block', -7, T0, { exposure_usd: -1000, worst_pnl_usd: -9, decision_id: `gov:${T0}-blocked` }),
      sample('permitted', 'governor_permit', 4, T0 + MIN, { decision_id: `gov:${T0}-permitted` }),
      sample('both', 'governor_block', -2, T0 + 2 * MIN, { decision_id: `gov:${T0}-both` }),
      // Another kind than the shadow's verdict: not its decision's sample.
      sample('permitted', 'governor_block', 100, T0 + MIN, { horizon: '1h', horizon_sec: 3600, decision_id: `gov:${T0}-permitted` }),
      // Another decision of the plan (another input): not this one's.
      sample('permitted', 'governor_permit', 1000, T0 + 3 * MIN, {
        horizon: '1h',
        horizon_sec: 3600,
        decision_id: `gov:${T0 + 3 * MIN}-0`,
      }),
    ];
    const incumbent = [
      sample('both', 'governor_permit', 50, T0 + 2 * MIN),
      sample('both', 'governor_permit', 3, T0 + 2 * MIN, { horizon: '1h', horizon_sec: 3600 }),
    ];
    const priced = priceDifferences(pairs, incumbent, ['5m', '1h'], own);
    const byKind = Object.fromEntries(priced.map((p) => [p.kind, p]));
    expect(byKind.would_block!.pnl.map((p) => [p.horizon, p.priced, p.noSample, p.totalPnlUsd])).toEqual([
      ['5m', 2, 0, -9],
      ['1h', 1, 1, -3],
    ]);
    expect(byKind.would_block!.pnl[0]!.worstExcursionUsd).toBe(-9);
    expect(byKind.would_permit!.pnl.map((p) => [p.horizon, p.priced, p.noSample, p.totalPnlUsd])).toEqual([
      ['5m', 1, 0, 4],
      ['1h', 0, 1, null],
    ]);
  });

  it("prices another calibrated action from the shadow's own downgrade, scaled by the share its action keeps open", () => {
    const pairs = [
      pair(
        'heat-gate',
        'h1',
        'calibrated_action=PARTIAL_25 reason=portfolio_heat_cold',
        'calibrated_action=PARTIAL_75 reason=portfolio_heat_warm',
      ),
      // The incumbent kept the proposal (nothing of it followed); the shadow's downgrade was.
      pair(
        'heat-gate',
        'h2',
        'calibrated_action=FULL_CLOSE reason=non_full_close_unchanged',
        'calibrated_action=PARTIAL_25 reason=portfolio_heat_cold',
      ),
    ];
    const fields = { proposed_action: 'FULL_CLOSE' };
    // FULL_CLOSE → PARTIAL_75 keeps 0.25 open (the shadow's), → PARTIAL_25 0.75 (the incumbent's): -2x the shadow's sample.
    const own = [
      sample('h1', 'heat_downgrade', 10, T0, { ...fields, decided_action: 'PARTIAL_75', exposure_usd: 1000, decision_id: `heat:${T0}-h1` }),
      sample('h2', 'heat_downgrade', 6, T0 + MIN, {
        ...fields,
        decided_action: 'PARTIAL_25',
        exposure_usd: 3000,
        decision_id: `heat:${T0}-h2`,
      }),
    ];
    const [priced] = priceDifferences(pairs, [], ['5m'], own);
    // h1: 10 × (0.25 - 0.75) / 0.25 = -20; h2: 6 × (0.75 - 0) / 0.75 = +6.
    expect(priced!.pnl[0]).toMatchObject({ priced: 2, noSample: 0, totalPnlUsd: -14 });
  });

  it('prices only verdict differences that change exposure', () => {
    expect(pricedKind(pair('governor', 'x', PERMIT, PERMIT, 'same'))).toBeUndefined();
    expect(pricedKind(pair('governor', 'x', 'event=block reason=kill_switch_active', BLOCK))).toBeUndefined();
    expect(pricedKind(pair('governor', 'x', PERMIT, 'dead-letter:invalid_input', 'documented'))).toBe('would_block');
    expect(
      pricedKind(
        pair('heat-bridge', 'x', 'by_plan out_action=A heat_level=cold reason=ok', 'by_plan out_action=B heat_level=cold reason=ok'),
      ),
    ).toBeUndefined();
    expect(
      pricedKind(pair('heat-gate', 'x', 'calibrated_action=PARTIAL_25 reason=a', 'calibrated_action=PARTIAL_25 reason=b')),
    ).toBeUndefined();
    expect(priceDifferences([pair('governor', 'x', PERMIT, PERMIT, 'same')], [], ['5m'])).toEqual([]);
  });
});
