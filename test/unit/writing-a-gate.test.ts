import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkSpread, spreadGuard, spreadGuardSection } from '../../docs/examples/spread-guard.js';
import type { RedisReader } from '../../runtime/index.js';
import { keys } from '../../schemas/keys.js';
import { fakeCtx, runHandler } from '../support/fake-ctx.js';

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

  it('rejects an intent the schema does not accept (the runtime dead-letters it)', () => {
    expect(spreadGuard.input.safeParse({ plan_id: 'p6', symbol: 'btc', qty: '1' }).success).toBe(false);
  });
});

describe('docs/writing-a-gate.md §8', () => {
  const root = resolve(import.meta.dirname, '../..');
  const example = readFileSync(resolve(root, 'docs/examples/spread-guard.ts'), 'utf8');
  const guide = readFileSync(resolve(root, 'docs/writing-a-gate.md'), 'utf8');
  const section8 = guide.slice(guide.indexOf('## 8. '));
  const blocks = [...section8.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it('has code blocks', () => {
    expect(guide).toContain('## 8. Its own route and status section');
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  // A `// ...` line marks a gap: every run of lines between gaps is a contiguous quote.
  it.each(blocks.flatMap((block, b) => quotedRuns(block).map((run, r) => [`block ${b + 1}, part ${r + 1}`, run])))(
    'quotes docs/examples/spread-guard.ts verbatim (%s)',
    (_name, run) => {
      expect(example).toContain(run);
    },
  );
});

function quotedRuns(block: string): string[] {
  const runs: string[][] = [[]];
  for (const line of block.replace(/\n$/, '').split('\n')) {
    if (line.trim() === '// ...') runs.push([]);
    else runs[runs.length - 1]!.push(line);
  }
  return runs.filter((run) => run.length > 0).map((run) => run.join('\n'));
}

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
