import { describe, expect, it } from 'vitest';
import { planFingerprint } from '../../handlers/governor/fingerprint.js';
import { createGovernor, governor } from '../../handlers/governor/index.js';
import { applyPlanSchema } from '../../schemas/apply-plan.js';
import { keys, streams } from '../../schemas/keys.js';
import type { GovernorConfig } from '../../handlers/governor/config.js';
import { runFallback as runFallbackAsRuntime, runHandler, type FakeCtxOptions } from '../support/fake-ctx.js';
import type { FakeRedisData } from '../support/fake-redis-reader.js';

const NOW = 1_800_000_000_000;
const EVENTS = streams.governorEvents;

/** A small open: 0.001 BTC at the plan's price of $100,000 = $100. */
function plan(fields: Record<string, string> = {}): Record<string, string> {
  return {
    plan_id: 'plan-0001',
    symbol: 'BTCUSDT',
    action: 'OPEN_LONG',
    decision: 'EXECUTE',
    side: 'BUY',
    qty: '0.001',
    price: '100000',
    kill_score: '0.1',
    ...fields,
  };
}

/** The market the governor prices opens at: BTCUSDT at the plan's own $100,000. */
const MARKET: NonNullable<FakeRedisData['hashes']> = { [keys.marketState('BTCUSDT')]: { mark_price: '100000' } };

/** Runs the governor on a plan with the market state (and any Redis contents a test adds). */
function decide(raw: Record<string, string>, options: FakeCtxOptions<GovernorConfig> = {}) {
  return runHandler(governor, raw, { ...options, redis: { ...options.redis, hashes: { ...MARKET, ...options.redis?.hashes } } });
}

/** Active positions as the position-snapshot handler materialises them. */
function positions(notionals: Record<string, number>): Pick<FakeRedisData, 'hashes' | 'sets'> {
  return {
    sets: { [keys.activePositions]: Object.keys(notionals) },
    hashes: Object.fromEntries(
      Object.entries(notionals).map(([symbol, n]) => [keys.position(symbol), { symbol, position_notional_usd: String(n) }]),
    ),
  };
}

function setKeys(run: Awaited<ReturnType<typeof decide>>) {
  return Object.fromEntries(run.recorder.effects.flatMap((e) => (e.op === 'setKey' ? [[e.key, e]] : [])));
}

function blockReason(run: Awaited<ReturnType<typeof decide>>, planId = 'plan-0001'): string | undefined {
  const block = setKeys(run)[keys.governorBlock(planId)];
  return block ? (JSON.parse(block.value) as { reason: string }).reason : undefined;
}

function permitted(run: Awaited<ReturnType<typeof decide>>, planId = 'plan-0001'): boolean {
  return keys.permit(planId) in setKeys(run);
}

describe('governor: a permitted open', () => {
  it('writes the permit JSON with TTL 60 s, guarded so no other replica decides the same plan', async () => {
    const run = await decide(plan(), { now: NOW });
    const permit = setKeys(run)[keys.permit('plan-0001')]!;
    expect(JSON.parse(permit.value)).toEqual({
      granted: true,
      symbol: 'BTCUSDT',
      decision: 'EXECUTE',
      computed_qty: 0,
      computed_notional: 0,
      created_at: NOW / 1000,
      consumed: false,
    });
    // The original's json.dumps layout: floats as floats (testnet writes 0.0 and 0.0).
    expect(permit.value).toBe(
      `{"granted": true, "symbol": "BTCUSDT", "decision": "EXECUTE", "computed_qty": 0.0, "computed_notional": 0.0, "created_at": ${NOW / 1000}.0, "consumed": false}`,
    );
    expect(permit.ttlSec).toBe(60);
    expect(run.recorder.guards).toEqual(
      expect.arrayContaining([
        { kind: 'absent', key: keys.permit('plan-0001') },
        { kind: 'absent', key: keys.governorPermitted('plan-0001') },
      ]),
    );
    expect(blockReason(run)).toBeUndefined();
  });

  it('records the execution in the original list, sets last_exec and schedules the cooldown end as a delayed job', async () => {
    const run = await decide(plan(), { now: NOW });
    expect(run.recorder.effects).toContainEqual({
      op: 'pushToList',
      key: keys.governorExecutions('BTCUSDT'),
      value: `${NOW / 1000}.0`,
      maxLength: 100,
      ttlSec: 86_400,
    });
    const lastExec = setKeys(run)[keys.governorLastExec('BTCUSDT')]!;
    expect(lastExec.ttlSec).toBe(3600);
    expect(lastExec.value).toBe(`${NOW / 1000}.0`);
    expect(run.recorder.jobs).toEqual([
      {
        queue: 'governor-cooldown',
        name: 'cooldown-expired',
        data: { symbol: 'BTCUSDT', plan_id: 'plan-0001', started_at: NOW, until: NOW + 60_000 },
        delayMs: 60_000,
        jobId: `cooldown-BTCUSDT-${NOW}`,
      },
    ]);
    expect(run.recorder.jobs[0]!.jobId).not.toContain(':');
  });

  it('guards the open on the symbol version it read', async () => {
    const first = await decide(plan(), { now: NOW });
    expect(first.recorder.guards).toEqual(expect.arrayContaining([{ kind: 'absent', key: keys.governorSymbolVersion('BTCUSDT') }]));
    expect(setKeys(first)[keys.governorSymbolVersion('BTCUSDT')]!.value).toBe('1');

    const later = await decide(plan(), { now: NOW, redis: { strings: { [keys.governorSymbolVersion('BTCUSDT')]: '7' } } });
    expect(later.recorder.guards).toContainEqual({ kind: 'equals', key: keys.governorSymbolVersion('BTCUSDT'), value: '7' });
    expect(setKeys(later)[keys.governorSymbolVersion('BTCUSDT')]!.value).toBe('8');
  });

  it('with cooldown 0 schedules nothing, but still records last_exec and guards on the version', async () => {
    const run = await decide(plan(), { now: NOW, env: { GOV_SYMBOL_COOLDOWN_SECONDS: '0' } });
    expect(permitted(run)).toBe(true);
    expect(setKeys(run)[keys.governorLastExec('BTCUSDT')]).toBeDefined();
    expect(run.recorder.jobs).toEqual([]);
    expect(run.recorder.guards).toContainEqual({ kind: 'absent', key: keys.governorSymbolVersion('BTCUSDT') });
  });

  it('emits a permit event and counts it', async () => {
    const run = await decide(plan(), {
      now: NOW,
      redis: { lists: { [keys.governorExecutions('BTCUSDT')]: [String((NOW - 120_000) / 1000)] } },
    });
    expect(run.emitted(EVENTS)).toEqual([
      expect.objectContaining({
        event: 'permit',
        reason: 'all_gates_passed',
        plan_id: 'plan-0001',
        symbol: 'BTCUSDT',
        kind: 'open',
        computed_notional: '100',
      }),
    ]);
    expect(run.metrics.get('quantum_govern_allow_total', { symbol: 'BTCUSDT' })).toBe(1);
    expect(run.metrics.get('quantum_govern_exec_count_hour', { symbol: 'BTCUSDT' })).toBe(2);
    expect(run.metrics.get('quantum_govern_exec_count_5min', { symbol: 'BTCUSDT' })).toBe(2);
  });
});

describe('governor: a blocked plan', () => {
  it('writes the block JSON with TTL 3600 s, an event and the block counter, and no permit', async () => {
    const run = await decide(plan({ qty: '0.01' }), { now: NOW });
    const block = setKeys(run)[keys.governorBlock('plan-0001')]!;
    expect(block.value).toBe(`{"reason": "notional_per_trade_exceeded", "timestamp": ${NOW / 1000}.0, "symbol": "BTCUSDT"}`);
    expect(block.ttlSec).toBe(3600);
    expect(permitted(run)).toBe(false);
    expect(run.recorder.jobs).toEqual([]);
    expect(run.emitted(EVENTS)).toEqual([
      expect.objectContaining({ event: 'block', reason: 'notional_per_trade_exceeded', plan_id: 'plan-0001', apply_mode: 'testnet' }),
    ]);
    expect(run.metrics.get('quantum_govern_block_total', { symbol: 'BTCUSDT', reason: 'notional_per_trade_exceeded' })).toBe(1);
    expect(run.metrics.get('quantum_govern_allow_total', { symbol: 'BTCUSDT' })).toBeUndefined();
  });
});

describe('governor: what it does not decide', () => {
  it.each([
    ['decision=SKIP', { decision: 'SKIP' }],
    ['no decision at all', { decision: '' }],
  ])('acknowledges a plan with %s without a permit or block', async (_name, fields) => {
    const raw = plan(fields);
    if (fields.decision === '') delete raw.decision;
    const run = await decide(raw, { now: NOW });
    expect(run.recorder.effects).toEqual([]);
    expect(run.metrics.get('quantum_govern_skipped_total', { reason: 'not_execute' })).toBe(1);
  });

  it("reads decision exactly as the original (`decision != 'EXECUTE'` skips): lower case is skipped", async () => {
    const run = await decide(plan({ decision: 'execute' }), { now: NOW });
    expect(run.recorder.effects).toEqual([]);
    expect(run.metrics.get('quantum_govern_skipped_total', { reason: 'not_execute' })).toBe(1);
  });

  it.each([
    ['a permit', keys.permit('plan-0001'), '{}'],
    ['the memory of a permit whose key expired', keys.governorPermitted('plan-0001'), 'FINGERPRINT'],
  ])('never permits again a plan_id that already has %s', async (_name, key, value) => {
    const fingerprint = value === 'FINGERPRINT' ? planFingerprint(applyPlanSchema.parse(plan())) : value;
    const run = await decide(plan(), { now: NOW, redis: { strings: { [key]: fingerprint } } });
    expect(run.recorder.effects).toEqual([]);
    expect(run.recorder.jobs).toEqual([]);
    expect(run.metrics.get('quantum_govern_allow_total', { symbol: 'BTCUSDT' })).toBeUndefined();
    expect(run.metrics.get('quantum_govern_skipped_total', { reason: 'already_permitted' })).toBe(1);
  });

  it('remembers a permitted plan_id far beyond its permit (GOV_PERMIT_MEMORY_SEC), guarded at commit', async () => {
    const run = await decide(plan(), { now: NOW });
    expect(permitted(run)).toBe(true);
    const memory = run.recorder.effects.find((e) => e.op === 'setKey' && e.key === keys.governorPermitted('plan-0001'));
    expect(memory).toMatchObject({ ttlSec: 86_400 });
    expect(run.recorder.guards).toContainEqual({ kind: 'absent', key: keys.governorPermitted('plan-0001') });
  });

  it('evaluates a blocked plan_id again, as the original does', async () => {
    const run = await decide(plan(), {
      now: NOW,
      redis: { strings: { [keys.governorBlock('plan-0001')]: '{"reason":"symbol_cooldown"}' } },
    });
    expect(permitted(run)).toBe(true);
  });

  it('blocks and reports a plan_id reused for a different plan, and leaves the first permit alone', async () => {
    const first = planFingerprint(applyPlanSchema.parse(plan()));
    const run = await decide(plan({ side: 'SELL', qty: '5' }), {
      now: NOW,
      redis: { strings: { [keys.governorPermitted('plan-0001')]: first } },
    });
    expect(run.recorder.effects.filter((e) => e.op === 'setKey')).toEqual([]);
    expect(run.emitted(streams.governorEvents)).toMatchObject([{ event: 'block', reason: 'plan_id_reused', plan_id: 'plan-0001' }]);
    expect(run.metrics.get('quantum_govern_block_total', { symbol: 'BTCUSDT', reason: 'plan_id_reused' })).toBe(1);
  });

  it.each([['plan_id'], ['symbol']])('rejects a plan without %s (the runtime dead-letters it)', (field) => {
    const raw = plan();
    delete raw[field];
    const result = applyPlanSchema.safeParse(raw);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([field]);
  });
});

describe('governor: kill switch and closes', () => {
  it.each(['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'OPEN_LONG'])('the kill switch blocks %s', async (action) => {
    const run = await decide(plan({ action }), { now: NOW, redis: { strings: { [keys.killSwitch]: '1' } } });
    expect(blockReason(run)).toBe('kill_switch_active');
  });

  it('quantum:kill = 0 does not block', async () => {
    expect(permitted(await decide(plan(), { now: NOW, redis: { strings: { [keys.killSwitch]: '0' } } }))).toBe(true);
  });

  const busy: FakeRedisData = {
    ...positions(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`SYM${i}USDT`, 5942.2]))),
    strings: { [keys.governorDisarm]: '{"reason":"repeated_errors"}', [keys.governorLastExec('BTCUSDT')]: String(NOW / 1000 - 1) },
    lists: { [keys.governorExecutions('BTCUSDT')]: [String(NOW / 1000 - 1), String(NOW / 1000 - 2), String(NOW / 1000 - 3)] },
  };

  it.each([['FULL_CLOSE_PROPOSED'], ['PARTIAL_75'], ['PARTIAL_50'], ['PARTIAL_25']])(
    '%s passes every fund cap on a portfolio far over them',
    async (action) => {
      const run = await decide(plan({ action, kill_score: '0.99', qty: '50' }), { now: NOW, redis: busy });
      expect(permitted(run)).toBe(true);
      expect(run.emitted(EVENTS)[0]).toMatchObject({ event: 'permit', reason: 'close_bypass', kind: 'close' });
    },
  );

  it.each([
    ['FULL_CLOSE', {}],
    ['partial_50', {}],
    ['PARTIAL_10', {}],
    ['PARTIAL_OPEN (side BUY, 10 @ 100,000)', { action: 'PARTIAL_OPEN', qty: '10' }],
    ['OPEN_LONG with reduceOnly=true', { action: 'OPEN_LONG', reduceOnly: 'true' }],
  ])('%s is not one of the seeds’ closes: it faces the caps', async (action, extra) => {
    const run = await decide(plan({ action, qty: '50', ...extra }), { now: NOW, redis: busy });
    expect(permitted(run)).toBe(false);
    expect(run.emitted(EVENTS)[0]).toMatchObject({ event: 'block', kind: 'open' });
  });

  it('a close inside the cooldown is permitted and restarts it (setex last_exec)', async () => {
    const run = await decide(plan({ action: 'PARTIAL_75' }), {
      now: NOW,
      redis: { strings: { [keys.governorLastExec('BTCUSDT')]: String(NOW / 1000 - 1) } },
    });
    expect(permitted(run)).toBe(true);
    expect(setKeys(run)[keys.governorLastExec('BTCUSDT')]!.value).toBe(`${NOW / 1000}.0`);
  });
});

describe('governor: what the snapshot reads', () => {
  const production = { APPLY_MODE: 'production' };
  it('production: counts executions strictly inside the hour (`ts > cutoff`) from the original list', async () => {
    const at = (ms: number) => String((NOW - ms) / 1000);
    const execs = [at(1_000_000), at(2_000_000), at(3_599_999), at(3_600_000)];
    const atCap = await decide(plan(), { now: NOW, env: production, redis: { lists: { [keys.governorExecutions('BTCUSDT')]: execs } } });
    expect(blockReason(atCap)).toBe('hourly_limit_exceeded');
    const two = [at(1_000_000), at(2_000_000), at(3_600_000), 'not-a-number'];
    expect(
      permitted(await decide(plan(), { now: NOW, env: production, redis: { lists: { [keys.governorExecutions('BTCUSDT')]: two } } })),
    ).toBe(true);
  });

  it('reads an earlier quantum-gates sorted set as history and replaces it with the list at the next permit', async () => {
    const zset = { [keys.governorExecutions('BTCUSDT')]: { p1: NOW - 1_000_000 } };
    const run = await decide(plan({ action: 'FULL_CLOSE_PROPOSED' }), { now: NOW, redis: { sortedSets: zset } });
    expect(permitted(run)).toBe(true);
    const execKey = keys.governorExecutions('BTCUSDT');
    expect(run.recorder.effects.filter((e) => 'key' in e && e.key === execKey)).toEqual([
      { op: 'deleteKey', key: execKey },
      { op: 'pushToList', key: execKey, value: String((NOW - 1_000_000) / 1000) + '.0', maxLength: 100 },
      { op: 'pushToList', key: execKey, value: `${NOW / 1000}.0`, maxLength: 100, ttlSec: 86_400 },
    ]);
  });

  it('prices a trade at the market mark price before the snapshot mark', async () => {
    const redis: FakeRedisData = {
      hashes: {
        [keys.marketState('BTCUSDT')]: { mark_price: '250000' },
        [keys.position('BTCUSDT')]: { position_notional_usd: '10', mark_price: '50000' },
      },
      sets: { [keys.activePositions]: ['BTCUSDT'] },
    };
    const run = await decide(plan({ price: '' }), { now: NOW, redis });
    expect(blockReason(run)).toBe('notional_per_trade_exceeded');
    expect(run.emitted(EVENTS)[0]).toMatchObject({ computed_notional: '250' });
  });

  it('records where its mark came from: the freshest quote by each source’s own time, its time and age, after every other field', async () => {
    const redis: FakeRedisData = {
      hashes: {
        // The seeds' market state (no time) loses to any fresh timed quote; the Ledger's is 4 s old, the ticker's 500 ms.
        [keys.p33PositionSnapshot('BTCUSDT')]: { position_amt: '0.0', mark_price: '99000', ts_epoch: String((NOW - 4000) / 1000) },
        [keys.ticker('BTCUSDT')]: { markPrice: '101000', timestamp: String(NOW - 500) },
      },
    };
    const event = (await decide(plan(), { now: NOW, redis })).emitted(EVENTS)[0]!;
    expect(event).toMatchObject({
      event: 'permit',
      mark_price: '101000',
      mark_source: 'ticker',
      mark_at: String(NOW - 500),
      mark_age_ms: '500',
    });
    expect(Object.keys(event).slice(-3)).toEqual(['mark_source', 'mark_at', 'mark_age_ms']);
  });

  it('a mark of no time names its source only; a quote stamped ahead within the skew is of negative age; no mark, no source', async () => {
    const timeless = (await decide(plan(), { now: NOW })).emitted(EVENTS)[0]!;
    expect(timeless).toMatchObject({ mark_price: '100000', mark_source: 'market_state' });
    expect(timeless).not.toHaveProperty('mark_at');
    expect(timeless).not.toHaveProperty('mark_age_ms');

    const ahead = await decide(plan(), {
      now: NOW,
      redis: { hashes: { [keys.ticker('BTCUSDT')]: { markPrice: '100500', timestamp: String(NOW + 300) } } },
    });
    expect(ahead.emitted(EVENTS)[0]).toMatchObject({ mark_source: 'ticker', mark_at: String(NOW + 300), mark_age_ms: '-300' });

    const unpriced = (await runHandler(governor, plan(), { now: NOW })).emitted(EVENTS)[0]!;
    expect(unpriced).toMatchObject({ event: 'block', reason: 'market_price_unknown' });
    for (const field of ['mark_price', 'mark_source', 'mark_at', 'mark_age_ms']) expect(unpriced).not.toHaveProperty(field);
  });

  it('a quote stamped beyond PRICE_MAX_SKEW_SEC is no quote: counted and logged by source, never the mark; the open is priced as unknown', async () => {
    // A P3.3 hash stamped 10 min ahead with mark 1,000 (flat: position_state_brain/main.py at 8f5055c52, lines 211-223)
    // beside the ticker at 100,000: an open of $15,000 at the market. What remains (the ticker) is no
    // longer cross-checked: the open is blocked market_price_unknown naming the refusal (issue #70).
    const run = await runHandler(governor, plan({ qty: '0.15', price: '' }), {
      now: NOW,
      redis: {
        hashes: {
          [keys.p33StatePositions('BTCUSDT')]: { position_amt: '0.0', mark_price: '1000', ts_epoch: String((NOW + 600_000) / 1000) },
          [keys.ticker('BTCUSDT')]: { markPrice: '100000', timestamp: String(NOW - 1000) },
        },
      },
    });
    expect(run.emitted(EVENTS)[0]).toMatchObject({
      event: 'block',
      reason: 'market_price_unknown',
      refused_inputs: 'p33:future',
      computed_notional: '15000',
      mark_source: 'ticker',
      mark_age_ms: '1000',
    });
    expect(run.metrics.get('quantum_govern_price_quotes_refused_total', { source: 'p33', reason: 'future' })).toBe(1);
    expect(run.logs.find((l) => l.msg?.includes('PRICE_MAX_SKEW_SEC'))?.obj).toMatchObject({
      symbol: 'BTCUSDT',
      source: 'p33',
      ahead_ms: 600_000,
    });
    // Alone, it is no price at all.
    const alone = await runHandler(governor, plan({ price: '' }), {
      now: NOW,
      redis: { hashes: { [keys.ticker('BTCUSDT')]: { markPrice: '1000', timestamp: String(NOW + 600_000) } } },
    });
    expect(alone.emitted(EVENTS)[0]).toMatchObject({ event: 'block', reason: 'market_price_unknown' });
  });

  it("a held position's quote stamped ahead is counted by source and logged with its symbol, priced or not", async () => {
    // P3.3's newest layout (position_state_brain/main.py at de25f13cb), indexed: ETHUSDT priced, SOLUSDT with
    // no mark; each symbol's ticker (microservices/price_feed at 73fab1f55, `publish_price`) stamped 10 min ahead.
    const p33 = (amt: string, mark?: string) => ({
      position_amt: amt,
      ...(mark ? { mark_price: mark } : {}),
      ts_epoch: String((NOW - 1000) / 1000),
    });
    const ahead = (price: string) => ({ markPrice: price, timestamp: String(NOW + 600_000) });
    const run = await decide(plan(), {
      now: NOW,
      redis: {
        hashes: {
          [keys.p33StatePositions('ETHUSDT')]: p33('0.1', '3000'),
          [keys.p33StatePositions('SOLUSDT')]: p33('1'),
          [keys.ticker('ETHUSDT')]: ahead('1'),
          [keys.ticker('SOLUSDT')]: ahead('150'),
        },
        sets: { [keys.p33PositionIndex]: ['ETHUSDT', 'SOLUSDT'] },
      },
    });
    expect(run.metrics.get('quantum_govern_price_quotes_refused_total', { source: 'ticker', reason: 'future' })).toBe(2);
    const logged = run.logs.filter((l) => l.msg?.includes('PRICE_MAX_SKEW_SEC')).map((l) => l.obj);
    expect(logged).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ symbol: 'ETHUSDT', source: 'ticker', ahead_ms: 600_000 }),
        expect.objectContaining({ symbol: 'SOLUSDT', source: 'ticker', ahead_ms: 600_000 }),
      ]),
    );
    // Neither priced anything, and neither is sized by what remains (issue #70): both unpriced, the open blocked for them.
    expect(blockReason(run)).toBe('position_price_unknown');
  });

  it('an add decided while its position’s hash is gone for a moment is measured from the last figure seen, not from 0', async () => {
    const own = createGovernor();
    // P3.3's newest layout (position_state_brain/main.py at de25f13cb): 1.5 long, indexed.
    const held: FakeRedisData = {
      hashes: {
        ...MARKET,
        [keys.p33StatePositions('BTCUSDT')]: { position_amt: '1.5', mark_price: '100000', ts_epoch: String((NOW - 1000) / 1000) },
      },
      sets: { [keys.p33PositionIndex]: ['BTCUSDT'] },
    };
    await runHandler(own, plan({ plan_id: 'seen', action: 'FULL_CLOSE_PROPOSED' }), { now: NOW, redis: held });
    const add = await runHandler(own, plan({ plan_id: 'add' }), { now: NOW + 5000, redis: { hashes: MARKET } });
    expect(permitted(add, 'add')).toBe(true);
    const member = add.recorder.effects.find((e) => e.op === 'addToSortedSet' && e.key === keys.governorReservations);
    expect(JSON.parse((member as { member: string }).member)).toMatchObject({ plan_id: 'add', book_qty: 1.5 });
  });

  it('no single producer can lower the mark: a fresh absurd tick, or a unit slip, beside the market prices nothing down', async () => {
    // The price feed's ticker (microservices/price_feed at 73fab1f55, `publish_price`) of 1e-9, a moment after
    // P3.3's flat hash and the market state at 100,000: an open of 1,000 units without a price of its own.
    for (const lie of ['0.000000001', '100']) {
      const run = await decide(plan({ qty: '1000', price: '' }), {
        now: NOW,
        redis: {
          hashes: {
            [keys.p33StatePositions('BTCUSDT')]: { position_amt: '0.0', mark_price: '100000', ts_epoch: String((NOW - 2000) / 1000) },
            [keys.ticker('BTCUSDT')]: { markPrice: lie, timestamp: String(NOW - 100) },
          },
        },
      });
      expect(run.emitted(EVENTS)[0]).toMatchObject({ event: 'block', reason: 'notional_per_trade_exceeded', mark_price: '100000' });
    }
  });

  it('the permit carries 0.0 in testnet whatever the price (the event carries our figure)', async () => {
    const run = await decide(plan({ price: '150000' }), {
      now: NOW,
      redis: { hashes: { [keys.marketState('BTCUSDT')]: { mark_price: '150000' } } },
    });
    expect(JSON.parse(setKeys(run)[keys.permit('plan-0001')]!.value).computed_notional).toBe(0);
    expect(run.emitted(EVENTS)[0]).toMatchObject({ computed_notional: '150' });
  });

  it('uses the position snapshot mark price when the market state has none', async () => {
    const redis: FakeRedisData = {
      hashes: { [keys.position('BTCUSDT')]: { position_notional_usd: '10', mark_price: '150000' } },
      sets: { [keys.activePositions]: ['BTCUSDT'] },
    };
    const run = await runHandler(governor, plan({ price: '' }), { now: NOW, redis });
    expect(setKeys(run)[keys.permit('plan-0001')]).toBeDefined();
    expect(run.emitted(EVENTS)[0]).toMatchObject({ computed_notional: '150' });
  });

  it('blocks an open it cannot price: no market price, whatever price the plan names', async () => {
    expect(blockReason(await runHandler(governor, plan(), { now: NOW }))).toBe('market_price_unknown');
  });

  it("blocks an open with the seed's $118,844 portfolio over the $2,000 total cap", async () => {
    const seed = { BTCUSDT: 60_000, ETHUSDT: 40_000, SOLUSDT: 18_844.14 };
    const run = await decide(plan(), { now: NOW, redis: positions(seed) });
    expect(blockReason(run)).toBe('total_notional_exceeded');
    expect(run.emitted(EVENTS)[0]).toMatchObject({ total_notional: '118844.14', open_positions: '3' });
  });

  it.each([
    ['epoch seconds', String((NOW - 301_000) / 1000)],
    ['epoch milliseconds', String(NOW - 301_000)],
  ])('blocks a plan whose timestamp (%s) is over 300 s old', async (_name, timestamp) => {
    expect(blockReason(await decide(plan({ timestamp }), { now: NOW }))).toBe('plan_too_old');
  });

  it('ages a plan without a timestamp by its stream entry', async () => {
    const run = await decide(plan(), { now: NOW, meta: { producedAt: NOW - 301_000 } });
    expect(blockReason(run)).toBe('plan_too_old');
  });
});

describe('governor: the P2.8 budget', () => {
  const budget = (ageSec: number, budgetUsd = 1000): FakeRedisData['hashes'] => ({
    [keys.budget('BTCUSDT')]: { budget_usd: String(budgetUsd), timestamp: String((NOW - ageSec * 1000) / 1000), mode: 'enforce' },
  });
  const violation = (ageSec: number, symbol = 'BTCUSDT') => ({
    [streams.budgetViolation]: [
      {
        id: `${NOW - ageSec * 1000}-0`,
        fields: { json: JSON.stringify({ symbol, timestamp: (NOW - ageSec * 1000) / 1000, over_budget: 500 }) },
      },
    ],
  });
  const enforce = { APPLY_MODE: 'production' };

  it.each([
    ['allows position plus trade over a fresh budget without a violation (the original)', { hashes: budget(10, 50) }, undefined],
    ['blocks on a violation for the symbol 29 s ago', { hashes: budget(10), streams: violation(29) }, 'p28_budget_violation'],
    ['ignores a violation 30 s old', { hashes: budget(10), streams: violation(30) }, undefined],
    ['ignores a violation for another symbol', { hashes: budget(10), streams: violation(1, 'ETHUSDT') }, undefined],
    ['fails open when the budget is missing', { streams: violation(1) }, undefined],
    ['fails open when the budget is 61 s old', { hashes: budget(61, 50), streams: violation(1) }, undefined],
  ] as const)('in enforce mode it %s', async (_name, redis, expected) => {
    const run = await decide(plan(), { now: NOW, env: enforce, redis });
    expect(blockReason(run)).toBe(expected);
    expect(permitted(run)).toBe(expected === undefined);
  });

  it('on the testnet path it only counts what it would block', async () => {
    const run = await decide(plan(), { now: NOW, redis: { hashes: budget(10), streams: violation(1) } });
    expect(permitted(run)).toBe(true);
    expect(run.metrics.get('quantum_govern_p28_shadow_violation_total', { symbol: 'BTCUSDT' })).toBe(1);
  });
});

describe('governor: auto-disarm', () => {
  const errors = (n: number, ageMs = 1000) => ({
    [keys.governorErrors]: Object.fromEntries(Array.from({ length: n }, (_, i) => [`e${i}`, NOW - ageMs - i])),
  });

  it('blocks opens with "disarmed" while the disarm key stands, and re-arms when it is deleted', async () => {
    const armed = await decide(plan(), { now: NOW, redis: { strings: { [keys.governorDisarm]: '{"reason":"manual"}' } } });
    expect(blockReason(armed)).toBe('disarmed');
    expect(permitted(await decide(plan(), { now: NOW }))).toBe(true);
  });

  it('trips after 5 errors: sets the disarm keys, clears the count, blocks the open', async () => {
    const run = await decide(plan(), { now: NOW, redis: { sortedSets: errors(5) } });
    expect(blockReason(run)).toBe('disarmed');
    const disarm = setKeys(run)[keys.governorDisarm]!;
    expect(JSON.parse(disarm.value)).toEqual({
      reason: 'repeated_errors',
      context: { error_count: 5, threshold: 5 },
      timestamp: NOW / 1000,
    });
    expect(disarm.ttlSec).toBeUndefined();
    const ofDay = setKeys(run)[keys.governorDisarmOfDay('2027-01-15')]!;
    expect(ofDay.value).toBe(`{"reason": "repeated_errors", "context": {"error_count": 5, "threshold": 5}, "timestamp": ${NOW / 1000}.0}`);
    expect(ofDay.ttlSec).toBe(86_400);
    expect(run.recorder.effects).toContainEqual({ op: 'deleteKey', key: keys.governorErrors });
    expect(run.recorder.guards).toContainEqual({ kind: 'absent', key: keys.governorDisarm });
    expect(run.metrics.get('quantum_govern_disarm_total', { reason: 'repeated_errors' })).toBe(1);
    expect(run.emitted(EVENTS).map((e) => e.event)).toEqual(['AUTO_DISARM', 'block']);
  });

  it.each([
    ['4 errors in the window', { sortedSets: errors(4) }, {}],
    ['5 errors older than GOV_DISARM_WINDOW_SEC', { sortedSets: errors(5, 300_000) }, { GOV_DISARM_WINDOW_SEC: '300' }],
    ['5 errors spread over days (the default window is 300 s)', { sortedSets: errors(5, 86_400_000) }, {}],
    ['GOV_ENABLE_AUTO_DISARM=false', { sortedSets: errors(9) }, { GOV_ENABLE_AUTO_DISARM: 'false' }],
  ])('does not trip with %s', async (_name, redis, env) => {
    const run = await decide(plan(), { now: NOW, redis, env });
    expect(permitted(run)).toBe(true);
    expect(setKeys(run)[keys.governorDisarm]).toBeUndefined();
  });

  it('still lets closes through when it trips', async () => {
    const run = await decide(plan({ action: 'FULL_CLOSE_PROPOSED' }), { now: NOW, redis: { sortedSets: errors(5) } });
    expect(permitted(run)).toBe(true);
    expect(setKeys(run)[keys.governorDisarm]).toBeDefined();
  });
});

describe('governor: a Redis that may evict (issue #59 item 3)', () => {
  it('reads maxmemory_policy with each plan: opens blocked redis_may_evict while it is not noeviction, closes permitted', async () => {
    for (const policy of ['volatile-ttl', 'allkeys-lru']) {
      const run = await decide(plan(), { now: NOW, redis: { maxmemoryPolicy: policy } });
      expect(blockReason(run)).toBe('redis_may_evict');
      expect(run.metrics.get('quantum_govern_block_total', { symbol: 'BTCUSDT', reason: 'redis_may_evict' })).toBe(1);
      expect(run.metrics.get('quantum_govern_errors_total')).toBeUndefined();
      expect(permitted(await decide(plan({ action: 'FULL_CLOSE_PROPOSED' }), { now: NOW, redis: { maxmemoryPolicy: policy } }))).toBe(true);
    }
    expect(permitted(await decide(plan(), { now: NOW, redis: { maxmemoryPolicy: 'noeviction' } }))).toBe(true);
  });

  it('a policy it cannot read (INFO refused by an ACL) cannot be confirmed noeviction: opens blocked, closes permitted, no error counted', async () => {
    const refused = new Error("NOPERM User gates has no permissions to run the 'info' command");
    const run = await decide(plan(), { now: NOW, redis: { maxmemoryPolicy: refused } });
    expect(blockReason(run)).toBe('redis_may_evict');
    expect(run.metrics.get('quantum_govern_errors_total')).toBeUndefined();
    expect(permitted(await decide(plan({ action: 'PARTIAL_25' }), { now: NOW, redis: { maxmemoryPolicy: refused } }))).toBe(true);
  });

  it('production: opens blocked, closes permitted', async () => {
    const env = { APPLY_MODE: 'production' };
    const redis = { maxmemoryPolicy: 'allkeys-random', ...positions({ BTCUSDT: 100 }) };
    expect(blockReason(await decide(plan(), { now: NOW, env, redis }))).toBe('redis_may_evict');
    expect(permitted(await decide(plan({ action: 'FULL_CLOSE_PROPOSED' }), { now: NOW, env, redis }))).toBe(true);
  });
});

describe('governor: fail-closed fallback', () => {
  if (governor.failure.policy !== 'fail-closed') throw new Error('the governor must fail closed');
  const failure = { error: new Error('boom'), attempts: 3 };

  // As the runtime runs it: with the idempotency guards it adds to a fallback's commit.
  async function runFallback(redis: FakeRedisData = {}, env: Record<string, string> = {}) {
    return runFallbackAsRuntime(governor, plan(), failure, { now: NOW, redis, env });
  }

  it('blocks with evaluation_error, never a permit, and records the error for auto-disarm', async () => {
    const run = await runFallback();
    const keysSet = run.recorder.effects.flatMap((e) => (e.op === 'setKey' ? [e.key] : []));
    expect(keysSet).toEqual([keys.governorBlock('plan-0001')]);
    expect(run.recorder.effects).toContainEqual({
      op: 'addToSortedSet',
      key: keys.governorErrors,
      score: NOW,
      member: `${NOW}-plan-0001`,
      ttlSec: 300,
    });
    expect(run.emitted(EVENTS)).toEqual([expect.objectContaining({ event: 'block', reason: 'evaluation_error', error: 'Error: boom' })]);
    expect(run.metrics.get('quantum_govern_block_total', { symbol: 'BTCUSDT', reason: 'evaluation_error' })).toBe(1);
    expect(run.recorder.guards).toContainEqual({ kind: 'absent', key: keys.permit('plan-0001') });
  });

  it('trips auto-disarm on the 5th error', async () => {
    const run = await runFallback({ sortedSets: { [keys.governorErrors]: { a: NOW - 1, b: NOW - 2, c: NOW - 3, d: NOW - 4 } } });
    expect(run.recorder.effects).toContainEqual(expect.objectContaining({ op: 'setKey', key: keys.governorDisarm }));
    expect(run.metrics.get('quantum_govern_disarm_total', { reason: 'repeated_errors' })).toBe(1);
  });

  it('does not trip twice when already disarmed', async () => {
    const run = await runFallback({
      strings: { [keys.governorDisarm]: '{}' },
      sortedSets: { [keys.governorErrors]: { a: NOW - 1, b: NOW - 2, c: NOW - 3, d: NOW - 4 } },
    });
    expect(run.recorder.effects).not.toContainEqual(expect.objectContaining({ op: 'setKey', key: keys.governorDisarm }));
  });

  it('still blocks when Redis cannot be read, leaving the trip to the next plan', async () => {
    const broken = {
      get sortedSets(): never {
        throw new Error('connection lost');
      },
    } as FakeRedisData;
    const run = await runFallback(broken);
    expect(run.recorder.effects).toContainEqual(expect.objectContaining({ op: 'setKey', key: keys.governorBlock('plan-0001') }));
    expect(run.recorder.effects).not.toContainEqual(expect.objectContaining({ key: keys.governorDisarm }));
  });
});
