import { describe, expect, it } from 'vitest';
import { newestFirst, type Decision } from '../../handlers/decisions.js';
import { describeDisarm, governorDecisions } from '../../handlers/governor/status.js';
import { heatDecisions, heatHistory, type HeatStatus } from '../../handlers/heat-gate/status.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { allHandlers } from '../../handlers/index.js';
import { budgetRow } from '../../handlers/risk-budget/status.js';
import {
  collectStatus,
  countsByHandler,
  defaultStatusOptions,
  describeSections,
  gateRows,
  hostedSections,
  type GatesStatus,
  type MetricJson,
  type StatusRedis,
  type StatusSources,
} from '../../app/http/status/status.js';
import { keys, streams } from '../../schemas/keys.js';

/** The sections of every gate, the heat gate hosted with its default settings (HEAT_MIN 0.25, HEAT_MAX 0.65). */
const sections = hostedSections(allHandlers, [{ handler: heatGate, config: heatGate.config({}) }]);
const heatOf = (status: GatesStatus) => status.heat as HeatStatus | null;
const decisionsOf = (status: GatesStatus) => status.decisions as Decision[] | null;

function counter(name: string, values: { labels: Record<string, string>; value: number }[]): MetricJson {
  return { name, values };
}

function entry(ms: number, fields: Record<string, string>): [string, string[]] {
  return [`${ms}-0`, Object.entries(fields).flat()];
}

describe('countsByHandler', () => {
  it('sums every outcome as processed, fallbacks as failed, and dead letters over reasons', () => {
    const counts = countsByHandler([
      counter('quantum_gates_messages_total', [
        { labels: { handler: 'heat-gate', outcome: 'handled' }, value: 7 },
        { labels: { handler: 'heat-gate', outcome: 'fallback' }, value: 2 },
        { labels: { handler: 'heat-gate', outcome: 'dead-letter' }, value: 1 },
        { labels: { handler: 'position-snapshot', outcome: 'handled' }, value: 4 },
      ]),
      counter('quantum_gates_dead_letters_total', [
        { labels: { handler: 'heat-gate', reason: 'invalid_input' }, value: 1 },
        { labels: { handler: 'heat-gate', reason: 'too_many_deliveries' }, value: 0 },
      ]),
      counter('quantum_gates_retries_total', [{ labels: { handler: 'heat-gate' }, value: 5 }]),
      counter('p26_proposals_processed_total', [{ labels: {}, value: 99 }]),
    ]);
    expect(counts.get('heat-gate')).toEqual({ processed: 10, handled: 7, fallback: 2, deadLettered: 1, retries: 5 });
    expect(counts.get('position-snapshot')).toEqual({ processed: 4, handled: 4, fallback: 0, deadLettered: 0, retries: 0 });
  });
});

describe('gateRows', () => {
  it('shows zero counts and no backlog for a gate that has seen nothing yet', () => {
    const [row] = gateRows(
      [{ name: 'risk-budget', description: 'P2.8', mode: 'shadow', trigger: 'schedule' }],
      [{ handler: 'risk-budget', source: 'bullmq:risk-budget', consuming: true }],
      new Map(),
      [],
    );
    expect(row).toMatchObject({
      name: 'risk-budget',
      mode: 'shadow',
      source: 'bullmq:risk-budget',
      group: null,
      processed: 0,
      failed: 0,
      pending: null,
      lag: null,
    });
  });

  it('joins the consumer group backlog by handler name', () => {
    const [row] = gateRows(
      [{ name: 'heat-gate', description: '', mode: 'enforce', trigger: 'stream' }],
      [{ handler: 'heat-gate', source: streams.harvestProposal, group: 'p26_heat_gate', consuming: false }],
      new Map([['heat-gate', { processed: 3, handled: 3, fallback: 0, deadLettered: 0, retries: 0 }]]),
      [{ handler: 'heat-gate', stream: streams.harvestProposal, group: 'p26_heat_gate', pending: 2, lag: 11 }],
    );
    expect(row).toMatchObject({ mode: 'enforce', group: 'p26_heat_gate', consuming: false, processed: 3, pending: 2, lag: 11 });
  });
});

describe('heatHistory', () => {
  it('returns points oldest first and skips entries without a numeric heat', () => {
    const points = heatHistory([
      entry(3000, { heat_value: '0.7', heat_bucket: 'HOT' }),
      entry(2000, { heat_value: 'n/a' }),
      entry(1000, { heat_value: '0.1', heat_bucket: 'COLD' }),
    ]);
    expect(points).toEqual([
      { at: 1000, heat: 0.1, bucket: 'COLD' },
      { at: 3000, heat: 0.7, bucket: 'HOT' },
    ]);
  });
});

describe('heatDecisions', () => {
  const downgraded = {
    symbol: 'BTCUSDT',
    plan_id: 'p1',
    original_action: 'FULL_CLOSE',
    calibrated_action: 'PARTIAL_75',
    calibrated: 'true',
    heat_value: '0.33',
    heat_bucket: 'WARM',
    reason: 'portfolio_heat_warm',
    mode: 'shadow',
  };
  const unchanged = {
    symbol: 'ETHUSDT',
    plan_id: 'p2',
    original_action: 'PARTIAL_50',
    calibrated_action: 'PARTIAL_50',
    calibrated: 'false',
  };

  it('lists every decision, kept and calibrated down, with the change, heat and reason', () => {
    const [kept, first, ...rest] = heatDecisions([entry(2000, unchanged), entry(1000, downgraded)], 20);
    expect(rest).toEqual([]);
    expect(kept).toMatchObject({ at: 2000, kind: 'kept', plan_id: 'p2', action: 'PARTIAL_50' });
    expect(first).toEqual({
      at: 1000,
      kind: 'downgrade',
      gate: 'heat-gate',
      symbol: 'BTCUSDT',
      plan_id: 'p1',
      action: 'FULL_CLOSE → PARTIAL_75',
      reason: 'portfolio_heat_warm',
      detail: 'heat 0.33 WARM',
      mode: 'shadow',
      id: '1000-0',
    });
  });

  it('stops at the limit, newest first', () => {
    const list = heatDecisions([entry(3, downgraded), entry(2, downgraded), entry(1, downgraded)], 2);
    expect(list.map((d) => d.at)).toEqual([3, 2]);
  });
});

describe('governorDecisions', () => {
  it.each([
    [{ event: 'PERMIT_ISSUED', symbol: 'BTCUSDT', plan_id: 'a' }, 'permit'],
    [{ event: 'BLOCKED', reason: 'symbol_cooldown' }, 'block'],
    [{ decision: 'ALLOW' }, 'permit'],
    [{ type: 'deny' }, 'block'],
    [{ event: 'auto_disarm', reason: 'governor_errors' }, 'event'],
    [{ event: 'cooldown_expired', decision: 'EXECUTE' }, 'event'],
    [{ event: 'permit', decision: 'EXECUTE', kind: 'open' }, 'permit'],
    [{ json: '{"event":"BLOCK","reason":"kill_switch_active","symbol":"ETHUSDT"}' }, 'block'],
  ])('reads %j as a %s', (fields, kind) => {
    const [decision] = governorDecisions([entry(1000, fields as Record<string, string>)]);
    expect(decision?.kind).toBe(kind);
    expect(decision?.gate).toBe('governor');
  });

  it("writes the rows of the governor's own events with their fields in one order", () => {
    const plan = { plan_id: 'p1', symbol: 'BTCUSDT', action: 'OPEN_LONG', decision: 'EXECUTE', side: 'BUY', source_id: '1-0' };
    const rows = governorDecisions([
      entry(1000, { event: 'block', ...plan, timestamp: '1', reason: 'symbol_cooldown', kind: 'open' }),
      entry(2000, { event: 'AUTO_DISARM', reason: 'governor_errors', context: '{}', timestamp: '2', action_taken: 'disarm' }),
      entry(3000, { event: 'cooldown_expired', symbol: 'BTCUSDT', plan_id: 'p1', started_at: '1', cooldown_until: '3', timestamp: '3' }),
      entry(4000, { event: 'kill_on', actor: 'ops', host: 'h', ts: '4000', reason: 'drill' }),
    ]);
    expect(rows.map((r) => r.kind)).toEqual(['block', 'event', 'event', 'event']);
    for (const row of rows)
      expect(Object.keys(row)).toEqual(['at', 'gate', 'id', 'kind', 'symbol', 'plan_id', 'action', 'reason', 'detail', 'mode']);
  });

  it('carries the block reason, symbol and plan of an event embedded as JSON', () => {
    const [decision] = governorDecisions([
      entry(1000, { json: '{"event":"BLOCK","reason":"kill_switch_active","symbol":"ETHUSDT","plan_id":"p9"}' }),
    ]);
    expect(decision).toMatchObject({ kind: 'block', reason: 'kill_switch_active', symbol: 'ETHUSDT', plan_id: 'p9', detail: 'BLOCK' });
  });

  it("reads the governor's own events: the event name, whether the plan opens or closes, the plan action", () => {
    const [decision] = governorDecisions([
      entry(1000, {
        event: 'block',
        plan_id: 'p1',
        symbol: 'BTCUSDT',
        action: 'OPEN_LONG',
        decision: 'EXECUTE',
        kind: 'open',
        reason: 'symbol_cooldown',
      }),
    ]);
    expect(decision).toMatchObject({ kind: 'block', action: 'OPEN_LONG', reason: 'symbol_cooldown', detail: 'block (open)' });
  });
});

describe('describeDisarm', () => {
  it.each([
    [null, null],
    ['manual stop', 'manual stop'],
    ['{"reason":"governor_errors","errors":5,"window_sec":60}', 'reason: governor_errors; errors: 5; window_sec: 60'],
    // The time as the governor writes it (epoch seconds, schemas/governor-records.ts), readable with its age.
    [
      '{"reason":"repeated_errors","context":{"errors":5},"timestamp":1795614900.5}',
      'reason: repeated_errors; context: {"errors":5}; timestamp: 2026-11-25 13:55:00 UTC (5 min ago)',
    ],
    ['{"reason":"x","ts":1795615200000}', 'reason: x; ts: 2026-11-25 14:00:00 UTC (0 s ago)'],
  ])('%s → %s', (raw, text) => {
    expect(describeDisarm(raw, Date.UTC(2026, 10, 25, 14, 0, 0))).toBe(text);
  });
});

describe('newestFirst', () => {
  it('orders decisions from every gate by time, newest first', () => {
    const gov = governorDecisions([entry(2000, { event: 'PERMIT' })]);
    const heat = heatDecisions(
      [
        entry(3000, { original_action: 'FULL_CLOSE', calibrated_action: 'PARTIAL_25' }),
        entry(1000, { original_action: 'FULL_CLOSE', calibrated_action: 'PARTIAL_75', calibrated: 'true' }),
      ],
      20,
    );
    expect(newestFirst([...heat, ...gov]).map((d) => d.at)).toEqual([3000, 2000, 1000]);
  });
});

describe('budgetRow', () => {
  it.each([
    ['a position above its budget is over budget', '1000', '-1500', true],
    ['a position equal to its budget is within it', '1000', '1000', false],
    ['a position below its budget is within it', '1000', '999.99', false],
    ['a missing budget is never reported as over budget', '', '1500', false],
  ])('%s', (_name, budget, notional, over) => {
    expect(budgetRow('BTCUSDT', { budget_usd: budget }, { position_notional_usd: notional }).over_budget).toBe(over);
  });

  it.each([
    ['epoch seconds', '1738015443', 1738015443000],
    ['epoch milliseconds', '1738015443123', 1738015443123],
    ['no known unit (99999999999)', '99999999999', null],
  ])('reads a budget timestamp in %s', (_name, ts, ms) => {
    expect(budgetRow('BTCUSDT', { timestamp: ts }, {}).computed_at).toBe(ms);
  });
});

/** An in-memory StatusRedis; `failing` makes every read reject, like a lost connection. */
function fakeRedis(
  data: {
    strings?: Record<string, string>;
    hashes?: Record<string, Record<string, string>>;
    sets?: Record<string, string[]>;
    streams?: Record<string, [string, string[]][]>;
  },
  failing = false,
): StatusRedis {
  const guard = async <T>(value: T) => {
    if (failing) throw new Error('Connection is closed.');
    return value;
  };
  const reads: Partial<StatusRedis> = {
    get: (key) => guard(data.strings?.[key] ?? null),
    type: (key) => guard(data.strings?.[key] !== undefined ? 'string' : data.hashes?.[key] !== undefined ? 'hash' : 'none'),
    hgetall: (key) => guard(data.hashes?.[key] ?? {}),
    smembers: (key) => guard(data.sets?.[key] ?? []),
    // The governor's reservations (a sorted set this fake holds none of) and their version.
    zrangebyscore: () => guard([]),
    xlen: (key) => guard(data.streams?.[key]?.length ?? 0),
    xrevrange: (key, _end, _start, _count, count) => guard([...(data.streams?.[key] ?? [])].reverse().slice(0, count)),
    // The governor's disarm section reads whether Redis may evict (a Redis at noeviction here).
    info: () => guard('# Memory\r\nmaxmemory_policy:noeviction\r\n'),
  };
  // The reads the status sections make; any other would be a new read this fake should learn.
  return reads as StatusRedis;
}

function sources(redis: StatusRedis, ready = true): StatusSources {
  return {
    redis,
    gates: [{ name: 'heat-gate', description: 'P2.6', mode: 'shadow', trigger: 'stream' }],
    consumers: () => [{ handler: 'heat-gate', source: streams.harvestProposal, group: 'p26_heat_gate', consuming: true }],
    backlog: async () => [{ handler: 'heat-gate', stream: streams.harvestProposal, group: 'p26_heat_gate', pending: 0, lag: 0 }],
    metrics: async () => [counter('quantum_gates_messages_total', [{ labels: { handler: 'heat-gate', outcome: 'handled' }, value: 2 }])],
    redisReady: () => ready,
    now: () => 5000,
    streams: { deadLetter: streams.deadLetter },
    sections,
  };
}

describe('collectStatus', () => {
  it('assembles every section from Redis and the metrics', async () => {
    const redis = fakeRedis({
      strings: { [keys.killSwitch]: '1', [keys.governorDisarm]: 'error burst' },
      hashes: {
        [keys.portfolioHeat]: { heat: '0.33', bucket: 'WARM', updated_at: '4000' },
        [keys.budget('BTCUSDT')]: { budget_usd: '1800.5', stress_factor: '0.425', mode: 'shadow', timestamp: '1738015443' },
        [keys.position('BTCUSDT')]: { position_notional_usd: '2000' },
      },
      sets: { [keys.activePositions]: ['BTCUSDT'] },
      streams: {
        [streams.harvestCalibrated]: [
          entry(1000, { heat_value: '0.2', calibrated: 'false' }),
          entry(3000, { heat_value: '0.33', original_action: 'FULL_CLOSE', calibrated_action: 'PARTIAL_75' }),
        ],
        [streams.governorEvents]: [entry(2000, { event: 'BLOCKED', reason: 'symbol_cooldown' })],
        [streams.deadLetter]: [entry(10, { reason: 'invalid_input' })],
      },
    });
    const status = await collectStatus(sources(redis));
    expect(status.errors).toEqual([]);
    expect(status.generated_at).toBe(5000);
    expect(status.gates[0]).toMatchObject({ name: 'heat-gate', processed: 2, pending: 0, lag: 0 });
    expect(status.heat).toMatchObject({ value: 0.33, bucket: 'WARM', updated_at: 4000, thresholds: { min: 0.25, max: 0.65 } });
    expect(heatOf(status)?.history.map((p) => p.heat)).toEqual([0.2, 0.33]);
    expect(status.budgets).toEqual([
      {
        symbol: 'BTCUSDT',
        budget_usd: 1800.5,
        stress_factor: 0.425,
        position_notional_usd: 2000,
        over_budget: true,
        mode: 'shadow',
        computed_at: 1738015443000,
      },
    ]);
    expect(status.kill_switch).toEqual({ active: true, value: '1' });
    expect(status.disarm).toEqual({ active: true, detail: 'error burst' });
    expect(decisionsOf(status)?.map((d) => [d.kind, d.at])).toEqual([
      ['downgrade', 3000],
      ['block', 2000],
      ['kept', 1000],
    ]);
    expect(status.dead_letter).toEqual({ stream: streams.deadLetter, length: 1 });
  });

  it('reports the kill switch off unless quantum:kill is exactly 1', async () => {
    const status = await collectStatus(sources(fakeRedis({ strings: { [keys.killSwitch]: '0' } })));
    expect(status.kill_switch).toEqual({ active: false, value: '0' });
    expect(status.disarm).toEqual({ active: false, detail: null });
  });

  it('still shows the gates and names each unreadable section when Redis fails', async () => {
    const status = await collectStatus(sources(fakeRedis({}, true), false));
    expect(status.redis_ready).toBe(false);
    expect(status.gates[0]).toMatchObject({ name: 'heat-gate', processed: 2 });
    expect(status.heat).toBeNull();
    expect(status.budgets).toBeNull();
    expect(status.kill_switch).toBeNull();
    expect(status.decisions).toBeNull();
    // One cause, one line: the sections that failed alike are named together.
    expect(status.errors).toEqual([
      'portfolio heat, heat history, governor events, kill switch, disarm, reservations, unknown positions, budgets, outcomes, dead letters: Connection is closed.',
    ]);
    expect(status.redis_fault).toBeNull();
  });

  it('puts every Redis section down to the outage the runtime tracks, in one line with the time it began', async () => {
    const since = Date.UTC(2026, 10, 22, 13, 4, 5);
    const down: StatusSources = {
      ...sources(fakeRedis({}, true), false),
      readinessCauses: () => ({
        starting: false,
        redis: { cause: 'unreachable', since, detail: 'connection reconnecting' },
        gates: [{ gate: 'heat-gate', cause: 'not consuming', since: null }],
      }),
    };
    const status = await collectStatus(down);
    expect(status.redis_fault).toMatchObject({ cause: 'unreachable', since, detail: 'connection reconnecting' });
    expect(status.redis_fault?.sections).toEqual(expect.arrayContaining(['budgets', 'kill switch', 'dead letters']));
    expect(status.errors).toEqual([
      'redis unreachable since 2026-11-22 13:04:05 UTC (connection reconnecting): 10 sections could not be read',
    ]);
    expect(status.headline).toEqual({
      state: 'BLOCKING',
      reasons: [
        {
          state: 'BLOCKING',
          text: 'Redis unreachable (connection reconnecting); heat-gate waits for it; 10 sections could not be read',
          since,
        },
      ],
    });
  });

  it('says OK with no reasons for a healthy runtime, and names its version and instance', async () => {
    const status = await collectStatus({
      ...sources(fakeRedis({})),
      readinessCauses: () => ({ starting: false, redis: undefined, gates: [] }),
      build: { version: '1.2.3', commit: 'abc1234' },
      instance: { name: 'gates-a', hostname: 'host-1', port: 8080 },
    });
    expect(status.headline).toEqual({ state: 'OK', reasons: [] });
    expect(status.build).toEqual({ version: '1.2.3', commit: 'abc1234' });
    expect(status.instance).toEqual({ name: 'gates-a', hostname: 'host-1', port: 8080 });
  });

  it('in enforce without portfolio state: heat unknown (its cause), not a measured 0 COLD, and DEGRADED naming the cause', async () => {
    const now = 20 * 60_000;
    // As the heat gate writes a fail-closed decision: heat 0.0 COLD, taken as COLD (handlers/heat-gate/outputs.ts).
    const failedClosed = (ms: number, mode: string) =>
      entry(ms, {
        heat_value: '0.0',
        heat_bucket: 'COLD',
        original_action: 'FULL_CLOSE',
        calibrated_action: 'PARTIAL_25',
        fail_closed_cause: 'portfolio_state_missing',
        mode,
      });
    const redis = fakeRedis({
      hashes: { [keys.portfolioHeat]: { heat: '0.0', bucket: 'COLD', updated_at: String(now - 1000) } },
      streams: {
        [streams.harvestCalibrated]: [
          // Out of the window, and one in shadow: neither counts.
          failedClosed(now - 16 * 60_000, 'enforce'),
          failedClosed(now - 10 * 60_000, 'shadow'),
          failedClosed(now - 5 * 60_000, 'enforce'),
          failedClosed(now - 1000, 'enforce'),
        ],
      },
    });
    const status = await collectStatus({
      ...sources(redis),
      now: () => now,
      readinessCauses: () => ({ starting: false, redis: undefined, gates: [] }),
    });

    expect(heatOf(status)).toMatchObject({
      value: null,
      bucket: null,
      unknown: 'unknown (portfolio_state_missing)',
      fail_closed: { count: 2, cause: 'portfolio_state_missing', since: now - 5 * 60_000 },
    });
    expect(status.headline.state).toBe('DEGRADED');
    expect(status.headline.reasons).toContainEqual({
      state: 'DEGRADED',
      text:
        'heat gate failed closed on 2 decisions in enforce in the last 15 min (portfolio_state_missing): heat unknown, taken as COLD, ' +
        'so every FULL_CLOSE becomes PARTIAL_25; check quantum:state:portfolio (its equity)',
      since: now - 5 * 60_000,
    });
  });

  it('fails a section that does not answer in time instead of hanging', async () => {
    const redis = fakeRedis({});
    const hanging = { ...redis, smembers: () => new Promise<string[]>(() => undefined) } as StatusRedis;
    const status = await collectStatus(sources(hanging), { ...defaultStatusOptions, timeoutMs: 20 });
    expect(status.budgets).toBeNull();
    expect(status.errors).toEqual(['budgets: no answer within 20 ms']);
    expect(status.headline.state).toBe('DEGRADED');
    expect(status.headline.reasons.map((r) => r.text)).toEqual(['could not read budgets: no answer within 20 ms']);
  });
});

describe("the gates' status sections", () => {
  it('are read whether or not this process hosts their gate, keyed as the JSON has always had them', () => {
    expect(describeSections(sections).map((s) => [s.key, s.gates])).toEqual([
      ['heat', ['heat-gate']],
      ['heat_calibration', ['heat-gate']],
      ['decisions', ['heat-gate', 'governor']],
      ['kill_switch', ['governor']],
      ['disarm', ['governor']],
      ['reservations', ['governor']],
      ['positions_unknown', ['governor']],
      ['budgets', ['risk-budget']],
      ['outcomes', ['outcome-sweep']],
    ]);
    expect(sections.filter((s) => s.config !== undefined).map((s) => s.gate)).toEqual(['heat-gate', 'heat-gate', 'heat-gate']);
  });

  it("refuses a section that would take a key of the status's own, or another gate's without a merge", () => {
    const gate = (name: string, key: string) =>
      ({ ...heatGate, name, http: { status: [{ key, title: key, read: async () => null }] } }) as unknown as typeof heatGate;
    expect(() => hostedSections([gate('spread-guard', 'gates')], [])).toThrow(
      'spread-guard: status section "gates" takes a key of the status\'s own',
    );
    expect(() => hostedSections([gate('a', 'limits'), gate('b', 'limits')], [])).toThrow(
      'b: status section "limits" is declared by a too, without a merge',
    );
  });

  it('reports a reader that throws under its gate and key, and still assembles the rest', async () => {
    const broken = {
      gate: 'spread-guard',
      config: undefined,
      section: { key: 'spread_guard', title: 'Spread guard', read: () => Promise.reject(new Error('bug')) },
    };
    const status = await collectStatus({ ...sources(fakeRedis({})), sections: [...sections, broken] });
    expect(status.spread_guard).toBeNull();
    expect(status.kill_switch).toEqual({ active: false, value: null });
    expect(status.errors).toEqual(['spread-guard spread_guard: bug']);
  });
});
