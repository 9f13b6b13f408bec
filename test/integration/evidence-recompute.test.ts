import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { governorOutcomes } from '../../handlers/outcomes/governor-follow-up.js';
import { heatOutcomes } from '../../handlers/outcomes/heat-follow-up.js';
import { outcomeSample, outcomeSweep } from '../../handlers/outcomes/sample.js';
import { positionIndex } from '../../handlers/positions/index-job.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { publishMarkPrice } from '../pipeline/producers/price-feed.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { startRuntime } from '../support/runtime.js';
import { runCli } from './cli-harness.js';
import { worldTime } from '../support/clock.js';
import { untilKeys, untilStream, untilStreamLength } from '../support/until.js';

/**
 * Issue #40, Done when: every figure of `report calibrate` and `report outcomes` recomputed from the
 * raw streams by this file's own arithmetic (nothing of cli/report is imported), on a fixed
 * scenario whose answers are known from its inputs.
 *
 * The book (Position Ledger hashes, 4 s old at each decision), sigma per bar as the market state
 * publisher writes it:
 *   BTCUSDT 0.01 × 50,000 = $500 σ .003 → 1.5;  ETHUSDT 0.5 × 2,000 = $1,000 σ .004 → 4;
 *   SOLUSDT 2 × 100 = $200 σ .006 → 1.2;  DOGEUSDT 1,000 × 0.15 = $150 σ .007 → 1.05;
 *   ADAUSDT 500 × 0.6 = $300 σ .005 → 1.5.  Σ = 9.25: heat = 9.25 / equity.
 * The price feed's ticker at each decision: the mark + 1 %, 500 ms old: fresher than the book's.
 * Six full closes a minute apart (BTC, ETH, SOL, BTC, ETH, SOL) at equity 20,000 … 6,000; two
 * opens the governor blocks ($250 XRP, $300 AVAX over the $200 per-trade cap), each symbol flat in
 * the Ledger at 2 % below the ticker, 4 s old, and in the ticker at the plan's price, 500 ms old.
 * At the 2 s sample: BTC +5 %, ETH −10 %, SOL +2 % from the book's mark; XRP −10 %, AVAX +10 %.
 */
const MIN = 60_000;
const book = [
  { symbol: 'BTCUSDT', amt: 0.01, mark: 50_000, sigma: 0.003 },
  { symbol: 'ETHUSDT', amt: 0.5, mark: 2_000, sigma: 0.004 },
  { symbol: 'SOLUSDT', amt: 2, mark: 100, sigma: 0.006 },
  { symbol: 'DOGEUSDT', amt: 1_000, mark: 0.15, sigma: 0.007 },
  { symbol: 'ADAUSDT', amt: 500, mark: 0.6, sigma: 0.005 },
] as const;
const closes = [
  { id: 'c1', symbol: 'BTCUSDT', equity: 20_000 },
  { id: 'c2', symbol: 'ETHUSDT', equity: 15_000 },
  { id: 'c3', symbol: 'SOLUSDT', equity: 12_000 },
  { id: 'c4', symbol: 'BTCUSDT', equity: 10_000 },
  { id: 'c5', symbol: 'ETHUSDT', equity: 8_000 },
  { id: 'c6', symbol: 'SOLUSDT', equity: 6_000 },
] as const;
const opens = [
  { id: 'o1', symbol: 'XRPUSDT', qty: 500, price: 0.5 },
  { id: 'o2', symbol: 'AVAXUSDT', qty: 30, price: 10 },
] as const;
const sampleMove: Record<string, number> = { BTCUSDT: 1.05, ETHUSDT: 0.9, SOLUSDT: 1.02, XRPUSDT: 0.9, AVAXUSDT: 1.1 };
const markOf = (symbol: string) => book.find((p) => p.symbol === symbol)?.mark ?? opens.find((o) => o.symbol === symbol)!.price;

const handlers = [heatGate, governor, positionIndex, heatOutcomes, governorOutcomes, outcomeSample, outcomeSweep];

describe('every figure recomputed from the raw streams', () => {
  let redis: TestRedis;
  let r: Redis;
  let runtimes: Runtime[] = [];
  const T0 = Math.floor(Date.now() / 1000) * 1000;
  let clock = T0;
  const env = { OUTCOME_HORIZONS: '2s,1d', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' };

  async function writeBook(now: number, moved: (symbol: string) => number = () => 1): Promise<void> {
    for (const p of book)
      await r.hset(keys.p33PositionSnapshot(p.symbol), {
        position_amt: String(p.amt),
        side: 'LONG',
        entry_price: String(p.mark),
        mark_price: String(p.mark * moved(p.symbol)),
        unrealized_pnl: '0',
        leverage: '5',
        ts_epoch: String(Math.floor(now / 1000)),
        source: 'binance_testnet',
      });
  }

  /** P3.3's hash of a flat symbol: no position, but a mark (position_state_brain writes every allowlisted symbol). */
  async function writeFlat(symbol: string, mark: number, now: number): Promise<void> {
    await r.hset(keys.p33PositionSnapshot(symbol), {
      position_amt: '0.0',
      side: 'NONE',
      entry_price: '0.0',
      mark_price: String(mark),
      unrealized_pnl: '0.0',
      leverage: '1',
      ts_epoch: String(Math.floor(now / 1000)),
      source: 'binance_testnet',
    });
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client;
    for (const p of book) await r.hset(keys.marketStatePublished(p.symbol), 'sigma', String(p.sigma));
    await writeBook(clock - 4000);
    const gates = await startRuntime(redis.url, { ...env, HANDLERS: 'heat-gate,governor,position-index' }, handlers, {
      ...worldTime(() => clock),
    });
    const followers = await startRuntime(redis.url, { ...env, HANDLERS: 'outcome-heat,outcome-governor' }, handlers);
    runtimes = [gates, followers];
    await untilKeys(r, [keys.p33PositionIndex], async () => (await r.scard(keys.p33PositionIndex)) === book.length, {
      what: 'the book indexed',
    });

    for (const [i, c] of closes.entries()) {
      clock = T0 + (i + 1) * MIN;
      await r.hset(keys.portfolioState, 'equity_usd', String(c.equity));
      await writeBook(clock - 4000);
      await publishMarkPrice(r, c.symbol, markOf(c.symbol) * 1.01, clock - 500);
      const before = await r.xlen(streams.heatDecision);
      await r.xadd(streams.harvestProposal, '*', 'plan_id', c.id, 'symbol', c.symbol, 'action', 'FULL_CLOSE', 'trace_id', c.id);
      await untilStreamLength(r, streams.heatDecision, before + 1, { what: `decision ${c.id}` });
    }
    for (const [i, o] of opens.entries()) {
      clock = T0 + (7 + i) * MIN;
      await writeBook(clock - 4000);
      await writeFlat(o.symbol, o.price * 0.98, clock - 4000);
      await publishMarkPrice(r, o.symbol, o.price, clock - 500);
      const before = await r.xlen(streams.governorEvents);
      const plan = { plan_id: o.id, symbol: o.symbol, kill_score: '0.1', decision: 'EXECUTE', timestamp: String(clock / 1000) };
      // The entry's id on the gates' clock, which runs minutes ahead of Redis's: the governor ages a
      // plan by its entry too, and an id of Redis's time would make it plan_too_old, not over the cap.
      await r.xadd(
        streams.applyPlan,
        `${clock}-0`,
        ...Object.entries({ ...plan, action: 'OPEN_LONG', side: 'BUY', qty: String(o.qty), price: String(o.price) }).flat(),
      );
      await untilStreamLength(r, streams.governorEvents, before + 1, { what: `governor event ${o.id}` });
    }
    await untilKeys(r, [keys.outcomePending], async () => (await r.zcard(keys.outcomePending)) === 8, { what: 'eight follow-ups' });
    for (const rt of runtimes) await rt.stop();
    // The flat hashes are stamped on the gates' clock, ahead of the real one the sample reads by
    // (refused as from the future, past the skew): the sample prices only from the ticker below.
    for (const o of opens) await r.del(keys.p33PositionSnapshot(o.symbol));
    // The sample prices, in every source the symbol has.
    await writeBook(Date.now(), (symbol) => sampleMove[symbol] ?? 1);
    for (const symbol of Object.keys(sampleMove)) await publishMarkPrice(r, symbol, markOf(symbol) * sampleMove[symbol]!, Date.now());
    runtimes = [await startRuntime(redis.url, { ...env, HANDLERS: 'outcome-sweep,outcome-sample', OUTCOME_SWEEP_SEC: '1' }, handlers)];
    await untilStream(r, streams.gatesOutcome, (samples) => samples.length === 8, { what: 'the eight 2 s samples' });
  }, 120_000);

  afterAll(async () => {
    for (const rt of runtimes) await rt.stop();
    await redis?.stop();
  });

  const raw = async (stream: string) =>
    (await r.xrange(stream, '-', '+')).map(([id, flat]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      return { id, ...fields } as Record<string, string>;
    });
  const cli = async <T>(args: string[]): Promise<T> => {
    const result = await runCli(args, { REDIS_URL: redis.url, OUTCOME_HORIZONS: '2s,1d' });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  };
  const window = () => ['--since', new Date(T0).toISOString(), '--until', new Date(T0 + 10 * MIN).toISOString()];
  const risk = book.reduce((sum, p) => sum + p.amt * p.mark * p.sigma, 0);

  it('the decisions record the heat, every symbol’s share, their time in ms, and the freshest mark with its age', async () => {
    const decisions = await raw(streams.heatDecision);
    expect(decisions.map((d) => d.plan_id)).toEqual(closes.map((c) => c.id));
    for (const [i, d] of decisions.entries()) {
      const c = closes[i]!;
      const debug = JSON.parse(d.debug_json!) as Record<string, number | string>;
      expect(debug.heat).toBeCloseTo(risk / c.equity, 15);
      const shares = JSON.parse(d.heat_by_symbol!) as Record<string, number>;
      for (const p of book) expect(shares[p.symbol]).toBeCloseTo((p.amt * p.mark * p.sigma) / c.equity, 15);
      expect(Number(d.decided_at_ms)).toBe(T0 + (i + 1) * MIN);
      // The ticker's mark, 500 ms old, not the book's, 4 s old.
      expect(debug).toMatchObject({ mark: markOf(c.symbol) * 1.01, mark_source: 'ticker', mark_age_ms: 500 });
    }
    // The governor's blocks too: the ticker's mark, 500 ms old, not the Ledger's, 4 s old.
    const blocks = (await raw(streams.governorEvents)).filter((e) => e.event === 'block');
    expect(blocks.map((e) => [e.plan_id, e.reason, e.mark_price, e.mark_source, e.mark_at, e.mark_age_ms])).toEqual(
      opens.map((o, i) => [o.id, 'notional_per_trade_exceeded', String(o.price), 'ticker', String(T0 + (7 + i) * MIN - 500), '500']),
    );
  });

  it('report calibrate: distribution, shares, time in bucket, the configured pair and every proposal, as recomputed', async () => {
    const decisions = await raw(streams.heatDecision);
    const samples = await raw(streams.gatesOutcome);
    const events = (await raw(streams.governorEvents)).filter((e) => e.event === 'permit' || e.event === 'block');
    const report = await cli<{
      heat: {
        decisions: number;
        min: number;
        max: number;
        mean: number;
        msInBucket: Record<string, number>;
        msWithoutReading: number;
        bySymbol: { symbol: string; shareOfHeat: number; meanHeat: number }[];
      };
      heatWhatIf: {
        configured: boolean;
        downgraded: number;
        pnl: { horizon: string; priced: number; totalPnlUsd: number | null; pnlBps: number | null; hitRate: number | null }[];
      }[];
      heatProposals: {
        proposal: { min: number; max: number };
        whatIf: { downgradedTo: Record<string, number>; pnl: { horizon: string; totalPnlUsd: number | null }[] };
      }[];
    }>(['report', 'calibrate', ...window(), '--heat-grid', '0.25:0.65', '--json']);

    const heats = decisions.map((d) => (JSON.parse(d.debug_json!) as { heat: number }).heat);
    expect(report.heat).toMatchObject({ decisions: 6, min: Math.min(...heats), max: Math.max(...heats) });
    expect(report.heat.mean).toBeCloseTo(heats.reduce((a, b) => a + b, 0) / 6, 15);
    // Shares: Σ over decisions of each symbol's share ÷ Σ heat; the book's proportions, all five, nothing under "(others)".
    const shareSums: Record<string, number> = {};
    for (const d of decisions)
      for (const [s, v] of Object.entries(JSON.parse(d.heat_by_symbol!) as Record<string, number>)) shareSums[s] = (shareSums[s] ?? 0) + v;
    const total = heats.reduce((a, b) => a + b, 0);
    expect(report.heat.bySymbol.map((s) => s.symbol).sort()).toEqual(book.map((p) => p.symbol).sort());
    for (const s of report.heat.bySymbol) expect(s.shareOfHeat).toBeCloseTo(shareSums[s.symbol]! / total, 12);
    expect(report.heat.bySymbol.find((s) => s.symbol === 'ETHUSDT')!.shareOfHeat).toBeCloseTo(4 / 9.25, 12);
    // Time in bucket: each decision's heat until the next or its validity (P26_HEAT_REFRESH_MS,
    // 10 s), whichever is sooner (ms); the last until the traffic's end (the last governor event).
    // The rest of a gap is between readings, in no bucket.
    const VALIDITY = 10_000;
    const at = decisions.map((d) => Number(d.decided_at_ms));
    const trafficEnd = Math.max(...events.map((e) => Math.round(Number(e.timestamp) * 1000)));
    let cold = 0;
    for (let i = 0; i < at.length; i++) cold += (i + 1 < at.length ? Math.min(at[i + 1]!, at[i]! + VALIDITY) : trafficEnd) - at[i]!;
    expect(report.heat.msInBucket).toEqual({ COLD: cold, WARM: 0, HOT: 0, UNKNOWN: 0 });
    expect(report.heat.msWithoutReading).toBe(trafficEnd - at[0]! - cold);
    expect(cold + report.heat.msWithoutReading).toBe(7 * MIN);

    // The downgrades' own samples: exposure ¾ of the book's notional, from the ticker's mark.
    const bySample = new Map(samples.filter((s) => s.horizon === '2s').map((s) => [s.decision_id, s]));
    const ownPnl = decisions.map((d, i) => {
      const c = closes[i]!;
      const s = bySample.get(`heat:${d.id}`)!;
      const p = book.find((b) => b.symbol === c.symbol)!;
      const exposure = 0.75 * p.amt * p.mark;
      const expected = Math.round(exposure * ((p.mark * sampleMove[c.symbol]!) / (p.mark * 1.01) - 1) * 100) / 100;
      expect([c.id, Number(s.exposure_usd), Number(s.entry_price), s.entry_price_source, Number(s.pnl_usd)]).toEqual([
        c.id,
        exposure,
        p.mark * 1.01,
        'ticker',
        expected,
      ]);
      return Number(s.pnl_usd);
    });
    const sum = (values: number[]) => Math.round(values.reduce((a, b) => a + b, 0) * 100) / 100;
    const configured = report.heatWhatIf.find((w) => w.configured)!;
    expect(configured.downgraded).toBe(6);
    expect(configured.pnl.find((p) => p.horizon === '2s')).toMatchObject({ priced: 6, totalPnlUsd: sum(ownPnl) });
    // Per unit of exposure: ¾ of 500 + 1,000 + 200 + 500 + 1,000 + 200 = 2,550 kept open; and the share that made money.
    const row = configured.pnl.find((p) => p.horizon === '2s')!;
    expect(row.pnlBps).toBeCloseTo((ownPnl.reduce((a, b) => a + b, 0) / 2550) * 10_000, 1);
    expect(row.hitRate).toBeCloseTo(ownPnl.filter((v) => v > 0).length / 6, 12);

    // Every proposal, decided again here: COLD → PARTIAL_25 keeps ¾ (the recorded), WARM → PARTIAL_75 keeps ¼ (a third), HOT keeps 0.
    expect(report.heatProposals.length).toBeGreaterThan(0);
    for (const { proposal, whatIf } of report.heatProposals) {
      const kept = heats.map((h) => (h < proposal.min ? 1 : h < proposal.max ? 1 / 3 : 0));
      expect(whatIf.downgradedTo).toEqual({
        ...(kept.filter((k) => k === 1).length > 0 ? { PARTIAL_25: kept.filter((k) => k === 1).length } : {}),
        ...(kept.filter((k) => k === 1 / 3).length > 0 ? { PARTIAL_75: kept.filter((k) => k === 1 / 3).length } : {}),
      });
      expect(whatIf.pnl.find((p) => p.horizon === '2s')!.totalPnlUsd).toBeCloseTo(sum(ownPnl.map((v, i) => v * kept[i]!)), 2);
    }
  });

  it('report outcomes: each gate’s verdict (total, bps, hit rate, blocks of time) as recomputed', async () => {
    const samples = (await raw(streams.gatesOutcome)).filter((s) => s.horizon === '2s');
    const report = await cli<{
      horizons: {
        horizon: string;
        verdicts: {
          gate: string;
          kind: string;
          decisions: number;
          totalPnlUsd: number;
          pnlBps: number;
          hitRate: number;
          blocks: { count: number; binMs: number; binsPerBlock: number };
          symbols: number;
        }[];
      }[];
    }>(['report', 'outcomes', ...window(), '--json']);
    const verdicts = report.horizons.find((h) => h.horizon === '2s')!.verdicts;
    for (const [gate, kind] of [
      ['heat gate', 'heat_downgrade'],
      ['governor', 'governor_block'],
    ] as const) {
      const mine = samples.filter((s) => s.kind === kind);
      const pnl = mine.map((s) => Number(s.pnl_usd));
      const total = pnl.reduce((a, b) => a + b, 0);
      const exposure = mine.reduce((a, s) => a + Math.abs(Number(s.exposure_usd)), 0);
      // Blocks of time (docs/outcomes.md): bins of the horizon (2 s) plus the median gap between
      // decisions, from the first decision on; blocks of about the cube root of the bins (≥ 2).
      const times = mine.map((s) => Number(s.decided_at)).sort((a, b) => a - b);
      const gaps = times
        .slice(1)
        .map((t, i) => t - times[i]!)
        .filter((g) => g > 0)
        .sort((a, b) => a - b);
      const binMs = 2000 + (gaps.length === 0 ? 0 : gaps[Math.floor((gaps.length - 1) / 2)]!);
      const bins = Math.floor((times[times.length - 1]! - times[0]!) / binMs) + 1;
      const filled = new Set(times.map((t) => Math.floor((t - times[0]!) / binMs))).size;
      const binsPerBlock = Math.max(2, Math.round(Math.cbrt(bins)));
      const v = verdicts.find((x) => x.gate === gate && x.kind === 'all')!;
      expect(v.decisions).toBe(mine.length);
      expect(v.totalPnlUsd).toBeCloseTo(total, 2);
      expect(v.pnlBps).toBeCloseTo((total / exposure) * 10_000, 1);
      expect(v.hitRate).toBeCloseTo(pnl.filter((x) => x > 0).length / pnl.length, 12);
      expect(v.blocks).toEqual({ count: Math.floor(filled / binsPerBlock), binMs, binsPerBlock });
      expect(v.symbols).toBe(new Set(mine.map((s) => s.symbol)).size);
    }
    // Blocked opens: −exposure × move, from the ticker at decision: XRP −$250 × −10 % = +25, AVAX −$300 × +10 % = −30.
    expect(verdicts.find((x) => x.gate === 'governor')!.totalPnlUsd).toBe(-5);
  });

  it('report outcomes --csv: every sample names its entry price’s source, time and age at the decision', async () => {
    const decisions = await raw(streams.heatDecision);
    const events = (await raw(streams.governorEvents)).filter((e) => e.event === 'block');
    const result = await runCli(['report', 'outcomes', ...window(), '--csv'], { REDIS_URL: redis.url, OUTCOME_HORIZONS: '2s,1d' });
    expect(result.code, result.stderr).toBe(0);
    const [header, ...lines] = result.stdout.trim().split('\n');
    const columns = header!.split(',');
    const rows = lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i]!, v])));
    const entry = (id: string) =>
      rows
        .filter((row) => row.decision_id === id)
        .map((row) => [Number(row.entry_price), row.entry_price_source, row.entry_price_at, row.entry_price_age_ms]);
    // The 2 s sample of each decision (the 1 d one is not due): heat downgrades and governor blocks alike, the ticker 500 ms before the decision.
    for (const [i, d] of decisions.entries()) {
      const at = new Date(T0 + (i + 1) * MIN - 500).toISOString();
      const expected = [markOf(closes[i]!.symbol) * 1.01, 'ticker', at, '500'];
      expect(entry(`heat:${d.id}`)).toEqual([expected]);
    }
    for (const [i, e] of events.entries()) {
      const expected = [opens[i]!.price, 'ticker', new Date(T0 + (7 + i) * MIN - 500).toISOString(), '500'];
      expect(entry(`gov:${e.id}`)).toEqual([expected]);
    }
    expect(rows).toHaveLength(decisions.length + events.length);
  });
});
