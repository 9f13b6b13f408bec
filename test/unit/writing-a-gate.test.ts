import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkedKey, checkSpread, spreadGuard, spreadGuardSection } from '../../docs/examples/spread-guard.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { fakeCtx, runFallback, runHandler } from '../support/fake-ctx.js';

// The worked example of docs/writing-a-gate.md, tested the way the guide says to test a gate.
const NOW = 1_800_000_000_000;
const OUT = 'quantum:stream:example.order.checked';
const market = (spread: string, ageSec = 5) => ({
  hashes: { [keys.marketState('BTCUSDT')]: { spread_bps: spread, timestamp: String(NOW / 1000 - ageSec) } },
});

describe('checkSpread', () => {
  const limits = { maxBps: 25, maxAgeMs: 30_000 };

  it.each([
    [{ spreadBps: 10, at: NOW }, true, 'spread_ok'],
    [{ spreadBps: 25, at: NOW }, true, 'spread_ok'],
    [{ spreadBps: 25.01, at: NOW }, false, 'spread_too_wide'],
    [{ spreadBps: 10, at: NOW - 30_000 }, true, 'spread_ok'],
    [{ spreadBps: 10, at: NOW - 30_001 }, false, 'market_state_stale'],
    [{ spreadBps: undefined, at: NOW }, false, 'market_state_missing'],
  ])('%j → allow=%s (%s)', (quote, allow, reason) => {
    expect(checkSpread(quote, limits, NOW)).toEqual({ allow, reason });
  });
});

describe('spread-guard handler', () => {
  it('allows an intent while the spread is within the limit', async () => {
    const run = await runHandler(spreadGuard, { plan_id: 'p1', symbol: 'BTCUSDT', qty: '0.01' }, { redis: market('12'), now: NOW });

    expect(run.emitted(OUT)).toEqual([
      { plan_id: 'p1', symbol: 'BTCUSDT', verdict: 'ALLOW', reason: 'spread_ok', spread_bps: '12', timestamp: String(NOW / 1000) },
    ]);
    expect(run.metrics.get('example_spread_guard_decisions_total', { verdict: 'ALLOW', reason: 'spread_ok' })).toBe(1);
  });

  it('blocks an intent while the spread is too wide', async () => {
    const run = await runHandler(spreadGuard, { plan_id: 'p2', symbol: 'BTCUSDT', qty: '0.01' }, { redis: market('40'), now: NOW });

    expect(run.emitted(OUT)[0]).toMatchObject({ verdict: 'BLOCK', reason: 'spread_too_wide' });
  });

  it('honours its configuration from the environment', async () => {
    const run = await runHandler(
      spreadGuard,
      { plan_id: 'p3', symbol: 'BTCUSDT', qty: '0.01' },
      { redis: market('40'), now: NOW, env: { SPREAD_GUARD_MAX_BPS: '50' } },
    );

    expect(run.emitted(OUT)[0]).toMatchObject({ verdict: 'ALLOW' });
  });

  it('fails closed without market state', async () => {
    const run = await runHandler(spreadGuard, { plan_id: 'p4', symbol: 'BTCUSDT', qty: '0.01' }, { now: NOW });

    expect(run.emitted(OUT)[0]).toMatchObject({ verdict: 'BLOCK', reason: 'market_state_missing', spread_bps: '' });
  });

  it('records a BLOCK as its fallback when the handler keeps failing', async () => {
    const intent = spreadGuard.input.parse({ plan_id: 'p5', symbol: 'BTCUSDT', qty: '0.01' });
    const run = await fakeCtx(spreadGuard, { now: NOW });
    if (spreadGuard.failure.policy === 'dead-letter') throw new Error('expected a fail-closed policy');

    await spreadGuard.failure.fallback(intent, { error: new Error('redis down'), attempts: 3 }, run.ctx);
    run.commit();

    expect(run.emitted(OUT)[0]).toMatchObject({ verdict: 'BLOCK', reason: 'spread_guard_error' });
  });

  it('remembers the plan_id with its verdict, guarded so two replicas cannot both check it', async () => {
    const run = await runHandler(spreadGuard, { plan_id: 'p7', symbol: 'BTCUSDT', qty: '0.01' }, { redis: market('12'), now: NOW });

    expect(run.recorder.effects).toContainEqual({ op: 'setKey', key: checkedKey('p7'), value: 'ALLOW', ttlSec: 3600 });
    expect(run.recorder.guards).toEqual([{ kind: 'absent', key: checkedKey('p7') }]);
  });

  it('counts an intent whose plan_id was checked already, and records nothing', async () => {
    const redis = { ...market('12'), strings: { [checkedKey('p8')]: 'BLOCK' } };
    const run = await runHandler(spreadGuard, { plan_id: 'p8', symbol: 'BTCUSDT', qty: '0.01' }, { redis, now: NOW });

    expect(run.recorder.effects).toEqual([]);
    expect(run.metrics.get('example_spread_guard_duplicates_total')).toBe(1);
  });

  it('guards its fallback the same way, as the runtime runs it', async () => {
    const run = await runFallback(
      spreadGuard,
      { plan_id: 'p9', symbol: 'BTCUSDT', qty: '0.01' },
      { error: new Error('down'), attempts: 3 },
    );

    expect(run.emitted(OUT)[0]).toMatchObject({ verdict: 'BLOCK', reason: 'spread_guard_error' });
    expect(run.recorder.guards).toEqual([{ kind: 'absent', key: checkedKey('p9') }]);
  });

  it('rejects an intent the schema does not accept (the runtime dead-letters it)', () => {
    expect(spreadGuard.input.safeParse({ plan_id: 'p6', symbol: 'btc', qty: '1' }).success).toBe(false);
  });
});

// Its code blocks are quotes of the example, checked with every other block by writing-a-gate-doc.test.ts.
describe('docs/writing-a-gate.md §17', () => {
  it('shows the worked example adding a route and a status section', () => {
    const guide = readFileSync(resolve(import.meta.dirname, '../../docs/writing-a-gate.md'), 'utf8');
    const section = guide.slice(guide.indexOf('## 17. Its own route and status section'), guide.indexOf('## 18. '));
    expect(section).toContain('const limitsRoute: RouteDeclaration<SpreadGuardConfig, SpreadGuardMetrics> = {');
    expect(section).toContain('export const spreadGuardSection = defineStatusSection<SpreadGuardConfig, SpreadGuardStatus>({');
    expect(section).toContain('http: { routes: [limitsRoute], status: [spreadGuardSection] },');
  });
});

describe('spread-guard status section', () => {
  const read = (entries: [string, string[]][]) =>
    spreadGuardSection.read({
      redis: { xrevrange: async () => entries } as unknown as RedisReader,
      config: undefined,
      env: {},
      now: () => NOW,
      read: (_part, reader) => reader(),
    });
  const verdict = (ms: number, reason: string, verdict = 'BLOCK'): [string, string[]] => [
    `${ms}-0`,
    ['symbol', 'BTCUSDT', 'verdict', verdict, 'reason', reason],
  ];

  it('counts the latest verdicts, newest first', async () => {
    const status = await read([verdict(2000, 'spread_too_wide'), verdict(1000, 'spread_ok', 'ALLOW')]);
    expect(status).toEqual({
      checked: 2,
      blocked: 1,
      latest: [
        { at: 2000, symbol: 'BTCUSDT', verdict: 'BLOCK', reason: 'spread_too_wide' },
        { at: 1000, symbol: 'BTCUSDT', verdict: 'ALLOW', reason: 'spread_ok' },
      ],
    });
    expect(spreadGuardSection.headline?.(status, NOW)).toEqual([]);
  });

  it('degrades the headline while every recent intent is blocked for want of market state', async () => {
    const status = await read([verdict(2000, 'market_state_stale'), verdict(1000, 'market_state_missing')]);
    expect(spreadGuardSection.headline?.(status, NOW)).toEqual([
      { state: 'DEGRADED', text: 'spread-guard: no fresh market state, every order intent is blocked', since: null },
    ]);
  });
});
