import { describe, expect, it } from 'vitest';
import { shadowMetrics } from '../../app/shadow/metrics.js';
import { SHADOW_STATE, shadowDecisionsKey } from '../../app/shadow/namespace.js';
import { decodeShadowRecord, type ShadowRecord } from '../../app/shadow/record.js';
import { pairRound } from '../../cli/shadow/live.js';
import { budgetsOf } from '../../cli/shadow/budget-pair.js';
import { pythonServices } from '../../cli/shadow/python.js';
import { shadowReport } from '../../cli/shadow/report.js';
import { riskBudget } from '../../handlers/risk-budget/index.js';
import { systemClock } from '../../runtime/host/index.js';
import { keys } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';
import { useShadowHosts } from '../support/shadow-host.js';

type Client = ReturnType<typeof usePrivateRedis>['client'];

/**
 * A stand-in for the Python budget engine's tick, as upstream's code writes it
 * (binyaminsemerci-ops/quantum_trader @ca9ec8239, microservices/portfolio_risk_governor/main.py
 * `compute_and_publish_budget`, lines 390-405): HSET quantum:portfolio:budget:{symbol} with the 10
 * fields, each str() of its value, `timestamp` str(int(time.time())), then EXPIRE 300. The inputs
 * are those the shadow's own tick recorded (both read the same book a moment apart); the budget
 * by upstream's formula (compute_stress_factor, compute_budget: lines 152-180).
 */
async function pythonTick(
  r: Client,
  stampSec: number,
  budgets: Record<string, { inputs: Readonly<Record<string, string>>; mode: string }>,
) {
  for (const [symbol, { inputs, mode }] of Object.entries(budgets)) {
    const [heat, cluster, vol] = [Number(inputs.portfolio_heat), Number(inputs.cluster_stress), Number(inputs.vol_regime)];
    const stress = Math.max(0, Math.min(1, 0.4 * heat + 0.4 * cluster + 0.2 * vol));
    const budget = Math.max(500, Math.min(10_000, Number(inputs.equity_usd) * 0.02 * (1 - stress)));
    const py = (n: number) => (Number.isInteger(n) ? `${n}.0` : String(n));
    await r.hset(keys.budget(symbol), {
      symbol,
      budget_usd: py(budget),
      stress_factor: py(stress),
      equity_usd: py(Number(inputs.equity_usd)),
      portfolio_heat: py(heat),
      cluster_stress: py(cluster),
      vol_regime: py(vol),
      mode,
      timestamp: String(stampSec),
      base_risk_pct: '0.02',
    });
    await r.expire(keys.budget(symbol), 300);
  }
}

/** The book both eras' budget engines read: equity, two symbols with Position Ledger hashes (the position index's set). */
async function seedBook(r: Client): Promise<void> {
  const nowSec = Number((await r.time())[0]);
  await r.hset(keys.portfolioState, 'equity_usd', '50000', 'timestamp', String(nowSec));
  await r.sadd(keys.p33PositionIndex, 'BTCUSDT', 'ETHUSDT');
}

async function shadowTicks(r: Client): Promise<ShadowRecord[]> {
  return (await r.xrange(shadowDecisionsKey('risk-budget'), '-', '+')).flatMap(([, fields]) => decodeShadowRecord(fields) ?? []);
}

describe('the risk budget (P2.8) in shadow, paired by tick', () => {
  const redis = usePrivateRedis();
  const startShadow = useShadowHosts();

  it('ticks on its own schedule writing budgets only under quantum:shadow:, and pairs each tick with the Python engine’s of its period', async () => {
    const r = redis.client;
    await seedBook(r);
    const shadow = await startShadow({
      base: r,
      handlers: [riskBudget],
      env: { BUDGET_COMPUTE_INTERVAL_SEC: '1' },
      host: systemClock,
      consumer: 'budget',
    });
    expect(await r.hget(SHADOW_STATE, 'risk-budget:period_ms')).toBe('1000');
    await waitFor(async () => (await shadowTicks(r)).length >= 3, { what: 'three shadow ticks' });
    await shadow.stop();
    // Nothing the pipeline reads: no budget hash, no violation, no last-known-good copy.
    expect(await r.keys('quantum:portfolio:budget:*')).toEqual([]);
    expect(await r.exists(keys.budgetPortfolioLkg)).toBe(0);
    const [first, second, third] = await shadowTicks(r);
    for (const tick of [first!, second!, third!]) expect([...budgetsOf(tick).keys()]).toEqual(['BTCUSDT', 'ETHUSDT']);
    // A tick is named by its period.
    expect(Number(second!.id.split('-')[0]) - Number(first!.id.split('-')[0])).toBe(1000);
    const inputs = (tick: ShadowRecord, symbol: string) => budgetsOf(tick).get(symbol)!;
    const stamp = (tick: ShadowRecord) => Math.floor(tick.producedAt / 1000);

    // Tick 1, the same: both symbols, same mode, same inputs, the same budgets.
    await pythonTick(r, stamp(first!), {
      BTCUSDT: { inputs: inputs(first!, 'BTCUSDT'), mode: 'shadow' },
      ETHUSDT: { inputs: inputs(first!, 'ETHUSDT'), mode: 'shadow' },
    });
    // The live pairing keeps the Python hashes it sees: the next tick writes over them.
    expect(await pairRound(r, pythonServices(r), shadowMetrics(), Date.now(), 60_000)).toMatchObject({ unexplained: 0 });
    // Tick 2, documented: the original did not budget ETHUSDT (docs/migration.md "budget symbols").
    await pythonTick(r, stamp(second!), { BTCUSDT: { inputs: inputs(second!, 'BTCUSDT'), mode: 'shadow' } });
    await r.del(keys.budget('ETHUSDT'));
    await pairRound(r, pythonServices(r), shadowMetrics(), Date.now(), 60_000);
    // Tick 3, planted: the original ran with P28_MODE=enforce, the shadow in shadow mode; nothing documents it.
    await pythonTick(r, stamp(third!), {
      BTCUSDT: { inputs: inputs(third!, 'BTCUSDT'), mode: 'enforce' },
      ETHUSDT: { inputs: inputs(third!, 'ETHUSDT'), mode: 'shadow' },
    });

    const report = await shadowReport(r, pythonServices(r), { graceMs: 0 }, Date.now());
    const byTick = Object.fromEntries(report.pairs.map((p) => [p.id, p]));
    expect(byTick[first!.id]).toMatchObject({ gate: 'risk-budget', class: 'same', incumbent: '2 budgets', shadow: '2 budgets' });
    expect(byTick[second!.id]).toMatchObject({
      class: 'documented',
      row: 'budget symbols',
      incumbent: 'ETHUSDT: none',
      shadow: 'ETHUSDT: budget mode=shadow base_risk_pct=0.02',
    });
    expect(byTick[third!.id]).toMatchObject({ class: 'unexplained' });
    expect(byTick[third!.id]!.changes).toEqual([
      expect.objectContaining({
        field: 'BTCUSDT',
        before: expect.stringContaining('mode=enforce'),
        after: expect.stringContaining('mode=shadow'),
      }),
    ]);
    // The shadow's later ticks the stand-in never made: named, not compared.
    expect(report.unpairedInputs.every((u) => u.gate === 'risk-budget' && u.decidedBy === 'shadow')).toBe(true);
  });
});
