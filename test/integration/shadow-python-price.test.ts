import { describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { SHADOW_OUTCOME_JOBS, SHADOW_OUTCOMES, shadowDecisionsKey } from '../../app/shadow/namespace.js';
import { formatShadowReport } from '../../cli/shadow/format.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import { pythonServices } from '../../cli/shadow/python.js';
import { shadowReport } from '../../cli/shadow/report.js';
import type { AnyHandler } from '../../runtime/host/index.js';
import { keys, streams } from '../../schemas/keys.js';
import { clockReading } from '../support/clock.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { useShadowHosts } from '../support/shadow-host.js';
import { waitFor } from '../support/runtime.js';
import { P33_NEWEST_TTL_SEC, p33NewestHash } from '../support/book-producers.js';
import { p26Calibrated, pythonBlock, pythonPermit } from '../support/python-incumbent.js';

const FIVE_MIN = 300_000;
const PRICING = { stream: streams.gatesOutcome, horizons: [{ label: '5m', ms: FIVE_MIN }] };

describe("the shadow beside the Python governor prices its verdict differences from its own decisions' outcome follow-ups", () => {
  const redis = usePrivateRedis();
  const startShadow = useShadowHosts();

  /**
   * A shadow of `gate` beside the Python service that reads `stream` in `group`, on the test's
   * clock: `moveOn` puts the shadow's clock (its gates' and its horizons') ahead, never slept on.
   * Then the book: equity, and one P3.3 position.
   */
  async function pricedShadow(gate: AnyHandler, stream: string, group: string, position: [string, number, number]) {
    const r = redis.client;
    let ahead = 0;
    const now = () => Date.now() + ahead;
    await r.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
    const shadow = await startShadow({
      base: r,
      handlers: [gate],
      env: { OUTCOME_HORIZONS: '5m' },
      host: clockReading(now),
      readRedisTime: () => Promise.resolve(now()),
      consumer: `shadow-${gate.name}-price`,
      blockMs: 100,
    });
    const nowSec = Number((await r.time())[0]);
    await r.hset(keys.portfolioState, 'equity_usd', '10000', 'timestamp', String(nowSec));
    const [symbol, amt, mark] = position;
    await r.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, amt, mark, nowSec));
    await r.expire(keys.p33StatePositions(symbol), P33_NEWEST_TTL_SEC);
    return { shadow, now, moveOn: (ms: number) => (ahead = ms) };
  }

  it('a planted difference each way gets a priced line at the horizon the test moves its clock to, its samples only under quantum:shadow:', async () => {
    const r = redis.client;
    // The book as test/integration/shadow-python.test.ts leaves it (the Python era's producers).
    const { shadow, now, moveOn } = await pricedShadow(governor, streams.applyPlan, 'governor', ['BTCUSDT', 0.02, 90000]);
    // Marks of the seeds' format (no time): the follow-ups' price at the decision and at the horizon.
    await r.hset(keys.marketState('SOLUSDT'), 'mark_price', '150', 'sigma', '0.2');
    await r.hset(keys.marketState('BNBUSDT'), 'mark_price', '600', 'sigma', '0.2');
    const plans: Record<string, string>[] = [
      { plan_id: 'py-big', symbol: 'BNBUSDT', action: 'ENTRY_PROPOSED', side: 'BUY', qty: '10', price: '600' },
      { plan_id: 'py-cool', symbol: 'SOLUSDT', action: 'ENTRY_PROPOSED', side: 'BUY', qty: '1', price: '150' },
    ];
    for (const plan of plans) await r.xadd(streams.applyPlan, '*', ...Object.entries({ decision: 'EXECUTE', ...plan }).flat());
    await waitFor(async () => (await r.xlen(shadowDecisionsKey('governor'))) === 2, { what: 'the shadow decided the plans' });
    // Each open's follow-up scheduled its 5m sample, kept under quantum:shadow: (nothing sent to BullMQ).
    await waitFor(async () => (await r.zcard(SHADOW_OUTCOME_JOBS)) === 2, { what: "the shadow's follow-ups" });
    // The Python governor (stand-in, as upstream writes: test/support/python-incumbent.ts):
    // the $6,000 open permitted (ours blocks it on the per-trade cap), the SOL open blocked on a cooldown.
    await pythonPermit(r, 'py-big', 'BNBUSDT');
    await pythonBlock(r, 'py-cool', 'SOLUSDT', 'symbol_cooldown');

    const before = await shadowReport(r, pythonServices(r), { graceMs: 0, pricing: PRICING }, now());
    expect(before.priced.map((p) => [p.kind, p.plans, p.pnl[0]!.noSample])).toEqual([
      ['would_block', ['py-big'], 1],
      ['would_permit', ['py-cool'], 1],
    ]);

    // The horizon passes on the test's clock; BNB went up 5 %, SOL down 2 %.
    await r.hset(keys.marketState('BNBUSDT'), 'mark_price', '630');
    await r.hset(keys.marketState('SOLUSDT'), 'mark_price', '147');
    await shadow.outcomes.sampleDue();
    expect(await r.zcard(SHADOW_OUTCOME_JOBS)).toBe(2); // not due yet: nothing sampled early
    expect(await r.xlen(SHADOW_OUTCOMES)).toBe(0);
    moveOn(FIVE_MIN + 1_000);
    await shadow.outcomes.sampleDue();
    expect(await r.zcard(SHADOW_OUTCOME_JOBS)).toBe(0);
    expect(await r.xlen(SHADOW_OUTCOMES)).toBe(2);

    const report = await shadowReport(r, pythonServices(r), { graceMs: 0, pricing: PRICING }, now());
    const byKind = Object.fromEntries(report.priced.map((p) => [p.kind, p.pnl[0]!]));
    // Blocking the $6,000 open gives up the +$300 it made; permitting the $150 one takes its -$3.
    expect(byKind.would_block).toMatchObject({ priced: 1, noSample: 0, totalPnlUsd: -300, interval90: null });
    expect(byKind.would_permit).toMatchObject({ priced: 1, noSample: 0, totalPnlUsd: -3, interval90: null });
    const text = formatShadowReport(report);
    expect(text).toContain('the shadow would have blocked 1 plan the incumbent permitted (py-big)');
    expect(text).toMatch(/5m: 1 priced, 0 no price, 0 no sample; total -\$300\.00/);
    expect(text).toContain('not enough independent data');

    // Nothing of it where the live follow-ups write: no outcome stream, no follow-up keys, no job queue.
    expect(await r.exists(streams.gatesOutcome)).toBe(0);
    expect(await r.keys('quantum:gates:outcome:*')).toEqual([]);
    expect(await r.keys('bull:*')).toEqual([]);
  });

  it("prices a calibration the Python heat gate did not make from the shadow's own downgrade at its horizon", async () => {
    const r = redis.client;
    const { shadow, now, moveOn } = await pricedShadow(heatGate, streams.harvestProposal, 'p26_heat_gate', ['ETHUSDT', 0.3, 3000]);
    await r.hset(keys.marketState('ETHUSDT'), 'mark_price', '3000', 'sigma', '0.2');
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'py-h-k3', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE_PROPOSED');
    await waitFor(async () => (await r.zcard(SHADOW_OUTCOME_JOBS)) === 1, { what: "the shadow's follow-up of its downgrade" });
    // The original passes the kernel's full close unchanged (docs/migration.md K3); ours calibrates it.
    await p26Calibrated(r, 'py-h-k3', 'ETHUSDT', 'FULL_CLOSE_PROPOSED', 'FULL_CLOSE_PROPOSED', 'non_full_close_unchanged');

    await r.hset(keys.marketState('ETHUSDT'), 'mark_price', '2970');
    moveOn(FIVE_MIN + 1_000);
    await shadow.outcomes.sampleDue();
    const samples = await r.xrange(SHADOW_OUTCOMES, '-', '+');
    expect(samples).toHaveLength(1);
    const sample = fieldsToRecord(samples[0]![1]);
    expect(sample).toMatchObject({ kind: 'heat_downgrade', plan_id: 'py-h-k3', proposed_action: 'FULL_CLOSE_PROPOSED', horizon: '5m' });
    // What the shadow's calibration kept open of the 0.3 ETH long, marked 1 % down.
    expect(Number(sample.pnl_usd)).toBeLessThan(0);

    const report = await shadowReport(r, pythonServices(r), { graceMs: 0, pricing: PRICING }, now());
    expect(report.pairs.map((p) => [p.label, p.class, p.row])).toEqual([['py-h-k3', 'documented', 'K3']]);
    // The incumbent kept nothing open: the difference is all the shadow's calibration kept, its own sample.
    expect(report.priced).toMatchObject([{ gate: 'heat-gate', kind: 'would_calibrate_otherwise', plans: ['py-h-k3'] }]);
    expect(report.priced[0]!.pnl[0]).toMatchObject({ priced: 1, noSample: 0, totalPnlUsd: Number(sample.pnl_usd) });
  });
});
