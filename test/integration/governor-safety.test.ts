import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterFields } from '../../runtime/engine/dead-letter.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { runCli } from './cli-harness.js';

/**
 * Issue #12's probes, each of which obtained a permit before, through the real runtime: every one
 * is now blocked with a reason, or dead-lettered as invalid input.
 */
describe('no input buys a permit (governor, real redis-server)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  let nowSec: number;
  beforeAll(() => {
    nowSec = Math.floor(Date.now() / 1000);
  });
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const start = async () => {
    await redis.client.hset(keys.marketState('BTCUSDT'), 'mark_price', '100000');
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor' });
  };
  const submit = (fields: Record<string, string>, id = '*') =>
    redis.client.xadd(
      streams.applyPlan,
      id,
      ...Object.entries({ decision: 'EXECUTE', symbol: 'BTCUSDT', action: 'OPEN', side: 'BUY', ...fields }).flat(),
    );
  const verdict = async (planId: string) => {
    const event = await waitFor(
      async () =>
        (await readStream(redis.client, streams.governorEvents)).find(
          (e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block'),
        ),
      {
        what: `a decision for ${planId}`,
      },
    );
    return `${event.event}: ${event.reason}`;
  };

  it.each([
    ['qty 1000 at the plan price "0", no market price', 'block: market_price_unknown', { symbol: 'XRPUSDT', qty: '1000', price: '0' }],
    [
      'qty 1000, price "0.0", notional 5,000,000, no market price',
      'block: market_price_unknown',
      { symbol: 'XRPUSDT', qty: '1000', price: '0.0', notional: '5000000' },
    ],
    ['qty 1000 at price "1e-9", no market price', 'block: market_price_unknown', { symbol: 'XRPUSDT', qty: '1000', price: '1e-9' }],
    ['qty "0" at mark 100,000 with notional 1,000,000', 'block: plan_qty_invalid', { qty: '0', notional: '1000000' }],
    ['qty 0.001 at mark 100,000 with notional 1,000,000', 'block: plan_notional_mismatch', { qty: '0.001', notional: '1000000' }],
    ['qty 1 at a plan price of 1e-9 against a mark of 100,000', 'block: plan_price_mismatch', { qty: '1', price: '1e-9' }],
    ['a timestamp an hour ahead', 'block: plan_time_in_future', { qty: '0.001', timestamp: String(Math.floor(Date.now() / 1000) + 3600) }],
    ['a timestamp of 99999999999', 'block: plan_time_unknown_unit', { qty: '0.001', timestamp: '99999999999' }],
    [
      'a timestamp in microseconds, 10 minutes old',
      'block: plan_too_old',
      { qty: '0.001', timestamp: String((Date.now() - 600_000) * 1000) },
    ],
    [
      'a timestamp in nanoseconds, an hour ahead',
      'block: plan_time_in_future',
      { qty: '0.001', timestamp: `${Date.now() + 3_600_000}000000` },
    ],
    ['PARTIAL_OPEN of $1M, which is not a close', 'block: notional_per_trade_exceeded', { action: 'PARTIAL_OPEN', qty: '10' }],
  ])('%s → %s', async (_name, expected, fields) => {
    await start();
    const planId = `probe-${Math.random().toString(36).slice(2)}`;
    await submit({ plan_id: planId, ...fields });
    expect(await verdict(planId)).toBe(expected);
    expect(await redis.client.exists(keys.permit(planId))).toBe(0);
  });

  it('a well-formed open at the market is permitted (the probes are blocked for their figures, not by default)', async () => {
    await start();
    await submit({ plan_id: 'fine', qty: '0.001', price: '100000', notional: '100', timestamp: String(nowSec) });
    expect(await verdict('fine')).toBe('permit: all_gates_passed');
  });

  it('dead-letters qty "1e-400" (it underflows to 0) as invalid input, with no decision', async () => {
    await start();
    await submit({ plan_id: 'underflow', qty: '1e-400' });
    const letter = await waitFor(
      async () => (await readStream(redis.client, streams.deadLetter)).find((e) => e.fields?.includes('underflow')),
      { what: 'the dead letter' },
    );
    expect(letter).toMatchObject({ handler: 'governor', reason: 'invalid_input' });
    expect(letter.error).toContain('qty');
    expect(await redis.client.exists(keys.permit('underflow'))).toBe(0);
  });

  it('ages an entry written 10 minutes ago by its id, whatever its timestamp says', async () => {
    await start();
    await submit({ plan_id: 'backdated', qty: '0.001', timestamp: String(Math.floor(Date.now() / 1000)) }, `${Date.now() - 600_000}-0`);
    expect(await verdict('backdated')).toBe('block: plan_too_old');
  });

  it('blocks a plan dead-lettered two hours ago and replayed with quantum-gates dlq replay', async () => {
    const firstWritten = Date.now() - 7_200_000;
    const raw = {
      decision: 'EXECUTE',
      plan_id: 'replayed',
      symbol: 'BTCUSDT',
      action: 'OPEN',
      side: 'BUY',
      qty: '0.001',
      timestamp: String(Math.floor(Date.now() / 1000)),
    };
    const letter = deadLetterFields({
      handler: 'governor',
      sourceStream: streams.applyPlan,
      sourceId: `${firstWritten}-0`,
      group: 'governor',
      reason: 'handler_failed',
      detail: 'Error: timeout',
      attempts: 3,
      raw,
      at: firstWritten + 1000,
    });
    const id = await redis.client.xadd(streams.deadLetter, '*', ...Object.entries(letter).flat());
    await start();

    const replay = await runCli(['dlq', 'replay', id!, '--reason', 'probe'], { REDIS_URL: redis.url });
    expect(replay.code, replay.stderr).toBe(0);
    expect(await verdict('replayed')).toBe('block: plan_too_old');
  });
});
