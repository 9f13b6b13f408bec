import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, governorDecided, metricSum, pendingCount, produce, readyAt, waitFor } from '../support/runtime.js';

/**
 * Issue #71, measured case 2: the governor's output stream (quantum:stream:governor.events) is a
 * string for 8 s while 2 opens and 2 closes arrive. Before, each plan's write was refused three
 * times and the plan got its failure policy (logged BLOCKED evaluation_error, whose event was
 * refused too), the group's pending count went to 0, and after the key was fixed 0-1 of 4 plans
 * had a decision event and no close was ever permitted. A refused write is Redis's state for the
 * message: held (pending, uncharged, /ready 503 naming the key) until the write lands.
 */

/** How long the output key holds another type: the measured case's. */
const BROKEN_MS = 8_000;

const plan = (planId: string, symbol: string, action: string) => ({
  plan_id: planId,
  symbol,
  action,
  decision: 'EXECUTE',
  kill_score: '0.1',
  side: 'BUY',
  qty: '1',
  price: '100',
  timestamp: String(Date.now() / 1000),
});

/** Plans the governor's group has acknowledged: delivered to it and no longer pending. */
async function acknowledged(client: Redis): Promise<number> {
  const groups = (await client.xinfo('GROUPS', streams.applyPlan)) as unknown[][];
  const governor = groups.map((fields) => Object.fromEntries(pairs(fields))).find((group) => group.name === 'governor');
  const delivered = await client.xrange(streams.applyPlan, '-', String(governor?.['last-delivered-id']));
  return delivered.length - (await pendingCount(client, streams.applyPlan, 'governor'));
}

function pairs(fields: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i < fields.length; i += 2) out.push([String(fields[i]), fields[i + 1]]);
  return out;
}

describe('an output key of another type holds the decisions until it is fixed, never gives them up', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('governor.events a string for 8 s while 2 opens and 2 closes arrive: held, /ready names the key; after the fix each plan decided once, every close permitted', async () => {
    const opens = ['AUSDT', 'BUSDT'].map((symbol) => plan(`open-${symbol}`, symbol, 'OPEN_LONG'));
    const closes = ['CUSDT', 'DUSDT'].map((symbol) => plan(`close-${symbol}`, symbol, 'FULL_CLOSE_PROPOSED'));
    for (const symbol of ['AUSDT', 'BUSDT'])
      await redis.client.hset(keys.marketState(symbol), 'mark_price', '100', 'ts', String(Date.now() / 1000));
    runtime = await createTestRuntime(redis.url, { HANDLERS: 'governor', GOV_SYMBOL_COOLDOWN_SECONDS: '0', COMMIT_BACKOFF_MAX_MS: '200' });
    const base = String(await runtime.start());
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 at start' });

    await redis.client.set(streams.governorEvents, 'not a stream');
    const started = Date.now();
    await produce(redis.client, streams.applyPlan, [...opens, ...closes]);
    const held = await waitFor(
      async () => {
        const answer = await readyAt(base);
        return answer.status === 503 && answer.body.includes(streams.governorEvents) && answer.body;
      },
      { what: '/ready 503 naming the refused key' },
    );
    console.info(`/ready while the key is a string: ${held}`);
    await new Promise((r) => setTimeout(r, Math.max(0, BROKEN_MS - (Date.now() - started))));
    // Nothing given up: no plan acknowledged (each pending or not yet read), the key untouched, nothing charged to auto-disarm.
    expect(await acknowledged(redis.client)).toBe(0);
    expect(await pendingCount(redis.client, streams.applyPlan, 'governor')).toBeGreaterThan(0);
    expect(await redis.client.get(streams.governorEvents)).toBe('not a stream');
    expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
    expect(await metricSum(runtime, 'quantum_gates_commit_failures_total', { cause: 'wrongtype' })).toBeGreaterThan(0);
    await redis.client.del(streams.governorEvents);

    const decided = await governorDecided(redis.client, 4);
    await waitFor(async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0, { what: 'every plan acknowledged' });
    const all = await governorDecided(redis.client, 4);
    expect(all).toHaveLength(4);
    const byPlan = new Map(decided.map((e) => [e.plan_id, `${e.event} ${e.reason}`]));
    expect([...byPlan.keys()].sort()).toEqual([...opens, ...closes].map((p) => p.plan_id).sort());
    for (const close of closes) expect(byPlan.get(close.plan_id)).toBe('permit close_bypass');
    for (const open of opens) expect(byPlan.get(open.plan_id)).toBe('permit all_gates_passed');
    expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 once the key is written' });
  }, 60_000);
});
