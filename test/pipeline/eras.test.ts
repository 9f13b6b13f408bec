/**
 * The real pipeline, end to end: the upstream producers of each era (test/pipeline/producers/,
 * each citing the upstream code it copies) write what they write, every gate runs in one process
 * against a private redis-server, and the checks are an operator's (issue #22): opens priced and
 * judged by the caps, closes permitted, a budget for every position, heat from the real positions,
 * kernel proposals decided under the Apply Layer's plan_id, the other heat gate's entries never
 * written over the kernel's hash, no dead letters, /ready 200 and an honest status page.
 *
 * The traffic is replayed once per era and heat gate mode in beforeAll; each check waits for what it needs and
 * fails on its own, so a report names which behaviour is missing.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { httpPlugins } from '../../app/http-plugins.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, metricSum, pendingCount, readStream, waitFor } from '../support/runtime.js';
import { untilKeys, untilStream } from '../support/until.js';
import { applyLayerAction, applyLayerPlanFor, applyLayerSteps } from './producers/apply-layer.js';
import {
  closeSymbols,
  expectedHeat,
  foreignHeatDecisions,
  heatGateEnv,
  scenarios,
  type Scenario,
  kernelTraffic,
  newestKernel,
  open,
  replayKernel,
  replayPlans,
  writeProducerState,
  type ExpectedOpen,
} from './traffic.js';

const USER = 'ops';
const PASSWORD = 'pipeline-suite-password';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };

/** waitFor that gives up quietly: the replay goes on, and the check that needs it fails by name. */
async function settle<T>(probe: () => Promise<T>, timeoutMs: number): Promise<T | undefined> {
  try {
    return await waitFor(probe, { timeoutMs, intervalMs: 100 });
  } catch {
    return undefined;
  }
}

/** A wait that gives up quietly, as settle. */
const quietly = <T>(wait: Promise<T>): Promise<T | undefined> => wait.catch(() => undefined);

describe.each(scenarios)('the real pipeline, $era era, heat gate in $mode', (scenario: Scenario) => {
  const { era } = scenario;
  let redis: TestRedis;
  let r: Redis;
  let runtime: Runtime;
  let heatAtStart = 0;
  const closePlans = new Map<string, string>(); // symbol → the Apply Layer's plan_id
  const openPlans = new Map<string, ExpectedOpen>(); // plan_id → intent

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client;
    await writeProducerState(r, era, Date.now());

    runtime = await createTestRuntime(
      redis.url,
      // A budget tick a second instead of every 10 s: the budgets of the replayed book's positions
      // come one tick after the replay, and the checks wait for them.
      { ...heatGateEnv(scenario), DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD, BUDGET_COMPUTE_INTERVAL_SEC: '1' },
      allHandlers,
      {
        httpPlugins,
      },
    );
    await runtime.start();
    await settle(async () => (await runtime.server.inject({ url: '/ready' })).statusCode === 200, 20_000);
    // Heat without a proposal: computed at start and every 10 s (seed 003), so within one refresh
    // of the start (P3.3's hashes may be found only by the index's first pass).
    heatAtStart = (await settle(async () => (await metricSum(runtime, 'p26_heat_value')) || undefined, 15_000)) ?? 0;

    await replayKernel(r, era);
    await quietly(
      untilStream(
        r,
        streams.harvestCalibrated,
        (entries) => {
          const symbols = new Set(entries.map((e) => e.symbol));
          return [...newestKernel.keys()].every((s) => symbols.has(s));
        },
        { timeoutMs: 20_000 },
      ),
    );
    await settle(() => caughtUp(streams.harvestProposal, 'p26_heat_gate'), 20_000);

    const plans = await replayPlans(r, era);
    for (const [symbol, planId] of plans.closePlans) closePlans.set(symbol, planId);
    for (const [planId, intent] of plans.openPlans) openPlans.set(planId, intent);
    const decided = closePlans.size + openPlans.size;
    await quietly(
      untilStream(
        r,
        streams.governorEvents,
        (events) => new Set(events.filter((e) => e.event === 'permit' || e.event === 'block').map((e) => e.plan_id)).size >= decided,
        { timeoutMs: 20_000 },
      ),
    );
    const budgets = open.map((p) => keys.budget(p.symbol));
    await quietly(untilKeys(r, budgets, async () => (await r.exists(...budgets)) === budgets.length, { timeoutMs: 30_000 }));
  }, 180_000);

  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  /** The group has been delivered the stream's last entry and acknowledged everything. */
  async function caughtUp(stream: string, group: string): Promise<true | undefined> {
    const [last] = await r.xrevrange(stream, '+', '-', 'COUNT', 1);
    const groups = (await r.xinfo('GROUPS', stream)) as unknown[][];
    const info = groups.map((g) =>
      Object.fromEntries(g.reduce<[unknown, unknown][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, g[i + 1]]]), [])),
    );
    const mine = info.find((g) => g.name === group);
    return (mine && last && mine['last-delivered-id'] === last[0] && Number(mine.pending) === 0) || undefined;
  }

  /** plan_id → [event, reason] of the governor's permits and blocks. */
  async function governorDecisions(): Promise<Map<string, [string, string]>> {
    const events = await readStream(r, streams.governorEvents);
    return new Map(events.filter((e) => e.event === 'permit' || e.event === 'block').map((e) => [e.plan_id!, [e.event!, e.reason!]]));
  }

  it('/ready answers 200', async () => {
    const ready = await runtime.server.inject({ url: '/ready' });
    expect(ready.statusCode, ready.body).toBe(200);
  });

  it('opens are priced from what the producers write and judged by the caps', async () => {
    const decisions = await governorDecisions();
    const got = Object.fromEntries([...openPlans].map(([planId, intent]) => [intent.symbol, decisions.get(planId)]));
    const want = Object.fromEntries([...openPlans.values()].map((intent) => [intent.symbol, intent.expect]));
    expect(got).toEqual(want);
  });

  it("closes are permitted: the Apply Layer's plans for every kernel close", async () => {
    expect([...closePlans.keys()].sort()).toEqual([...closeSymbols].sort());
    const decisions = await governorDecisions();
    for (const [symbol, planId] of closePlans) expect([symbol, decisions.get(planId)?.[0]]).toEqual([symbol, 'permit']);
  });

  it('every open position has a budget, and the status page lists it', async () => {
    for (const p of open) expect([p.symbol, await r.exists(keys.budget(p.symbol))]).toEqual([p.symbol, 1]);
    // Computed with the heat of the real positions (all-in-one: the heat gate's formula at tick time).
    for (const p of open)
      expect([p.symbol, Number(await r.hget(keys.budget(p.symbol), 'portfolio_heat'))]).toEqual([
        p.symbol,
        expect.closeTo(expectedHeat, 6),
      ]);
    const status = (await runtime.server.inject({ url: '/status', headers: AUTH })).json<{
      budgets: { symbol: string; budget_usd: number | null }[];
    }>();
    const listed = Object.fromEntries(status.budgets.map((b) => [b.symbol, b.budget_usd !== null]));
    for (const p of open) expect([p.symbol, listed[p.symbol]]).toEqual([p.symbol, true]);
  });

  it('heat comes from the real positions and the market state publisher’s sigma, from the start', async () => {
    expect(expectedHeat).toBeGreaterThan(0);
    expect(heatAtStart).toBeCloseTo(expectedHeat, 6);
    const calibrated = await readStream(r, streams.harvestCalibrated);
    expect(calibrated.length).toBeGreaterThan(0);
    for (const entry of calibrated) expect(Number(entry.heat_value)).toBeCloseTo(expectedHeat, 6);
  });

  it('kernel proposals are decided, FULL_CLOSE_PROPOSED calibrated, and nothing of the other heat gate is', async () => {
    const calibrated = await readStream(r, streams.harvestCalibrated);
    // Every decision is of a kernel proposal (none of quantum-heat-gate's NOOP/UNKNOWN entries),
    // and the newest proposal of every symbol is among them (an older one may be superseded).
    const kernel = new Set(kernelTraffic.map((k) => `${k.symbol} ${k.action}`));
    expect(calibrated.map((e) => `${e.symbol} ${e.original_action}`).filter((d) => !kernel.has(d))).toEqual([]);
    const decided = new Set(calibrated.map((e) => `${e.symbol} ${e.original_action}`));
    expect([...newestKernel].map(([symbol, action]) => `${symbol} ${action}`).filter((d) => !decided.has(d))).toEqual([]);
    // The kernel's full close, COLD: lowered to a partial the era's Apply Layer executes (PARTIAL_25
    // is an ERROR unknown_action_PARTIAL_25 before upstream's 304998721).
    const btc = calibrated.find((e) => e.symbol === 'BTCUSDT')!;
    expect(btc.heat_bucket).toBe('COLD');
    expect(btc.calibrated_action).toMatch(/^PARTIAL_(25|50)$/);
    expect(applyLayerSteps(era, btc.calibrated_action!).decision).toBe('EXECUTE');
    // quantum-heat-gate's entries: acknowledged and counted by reason, never decided.
    expect(await metricSum(runtime, 'quantum_heat_gate_unusable_entries_total', { reason: 'heat_gate_decision' })).toBe(
      foreignHeatDecisions(era),
    );
  });

  it("decisions carry the plan_id the Apply Layer derives: its heat observer finds the bridge's lookup", async () => {
    const calibrated = await readStream(r, streams.harvestCalibrated);
    for (const symbol of newestKernel.keys()) {
      const { planId } = applyLayerPlanFor(era, symbol, await r.hgetall(keys.harvestProposal(symbol)));
      // heat_observer.observe: HGETALL f"{P28_HEAT_LOOKUP_PREFIX}{plan_id}" (73fab1f55, heat_observer.py line 124-127).
      expect([symbol, await r.exists(keys.heatByPlan(planId))]).toEqual([symbol, 1]);
      expect(calibrated.filter((e) => e.symbol === symbol).at(-1)?.plan_id).toBe(planId);
    }
  });

  it("the proposal hash holds the kernel's newest proposal, calibrated (enforce) in the field the era's Apply Layer reads, and it executes the closes", async () => {
    const calibrated = await readStream(r, streams.harvestCalibrated);
    for (const [symbol, action] of newestKernel) {
      const hash = await r.hgetall(keys.harvestProposal(symbol));
      if (scenario.mode === 'shadow') {
        // Shadow: the kernel's hash untouched.
        expect([symbol, hash.harvest_action, hash.calibrated, hash.action]).toEqual([symbol, action, undefined, undefined]);
        continue;
      }
      // Enforce: what this era's Apply Layer reads is the calibration of the kernel's newest
      // proposal for the symbol, never an older one's and never quantum-heat-gate's NOOP/UNKNOWN.
      const newest = calibrated.filter((e) => e.symbol === symbol).at(-1);
      expect([symbol, newest?.original_action]).toEqual([symbol, action]);
      expect([symbol, applyLayerAction(era, hash)]).toEqual([symbol, newest?.calibrated_action]);
      expect([symbol, ['NOOP', 'UNKNOWN'].includes(hash.action ?? '')]).toEqual([symbol, false]);
    }
    for (const symbol of closeSymbols) {
      const plan = applyLayerPlanFor(era, symbol, await r.hgetall(keys.harvestProposal(symbol)));
      expect([symbol, plan.decision]).toEqual([symbol, 'EXECUTE']);
    }
  });

  it('no dead letters, and every entry of every group acknowledged', async () => {
    const dead = await readStream(r, streams.deadLetter);
    expect(dead.map((d) => `${d.handler ?? ''}: ${d.error ?? d.reason ?? ''}`)).toEqual([]);
    expect(await pendingCount(r, streams.harvestProposal, 'p26_heat_gate')).toBe(0);
    expect(await pendingCount(r, streams.applyPlan, 'governor')).toBe(0);
    expect(await pendingCount(r, streams.heatDecision, 'heat_bridge')).toBe(0);
    if (era === 'newest') expect(await pendingCount(r, streams.positionSnapshot, 'position_snapshot')).toBe(0);
  });

  it('the status page is honest: nothing DEGRADED or BLOCKING on normal traffic but thresholds enforce never reaches', async () => {
    const status = (await runtime.server.inject({ url: '/status', headers: AUTH })).json<{
      headline: { reasons: { state: string; text: string }[] };
    }>();
    const reasons = status.headline.reasons;
    // Issue #26: the real producers' heat (about 0.005 here) is 50 times below HEAT_MIN 0.25: the
    // headline says so, as a note in shadow mode; in enforce mode (issue #40) as DEGRADED, since
    // every full close then lands in one bucket whatever the book does.
    const scale =
      /^heat-gate (enforces thresholds the heat never reaches: )?calibration: .* never came within a factor of 10 of HEAT_MIN 0\.25/;
    expect(reasons.filter((r) => r.state !== 'NOTE' && !scale.test(r.text)).map((reason) => `${reason.state}: ${reason.text}`)).toEqual([]);
    expect(reasons.filter((r) => scale.test(r.text)).map((r) => r.state)).toEqual([scenario.mode === 'enforce' ? 'DEGRADED' : 'NOTE']);
  });
});
