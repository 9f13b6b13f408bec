import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, produce, startRuntime, waitFor, governorDecisions } from '../support/runtime.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const PER_SYMBOL = 60;

/** Sum of a counter's samples whose labels match, from one replica's /metrics. */
function counter(body: string, name: string, labelFilter: string): number {
  let total = 0;
  for (const line of body.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labelFilter)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('two governor replicas racing on one stream', () => {
  const redis = usePrivateRedis();
  let replicas: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    replicas = [];
  });

  /** Starts two replicas (own CONSUMER_NAME each, small batches so they interleave), then floods opens. */
  async function race(env: Record<string, string>) {
    for (const name of ['replica-a', 'replica-b']) {
      replicas.push(await startRuntime(redis.url, { HANDLERS: 'governor', CONSUMER_NAME: name, BATCH_SIZE: '4', ...env }));
    }
    // Interleaved so every batch holds several opens of the same symbol.
    const plans = Array.from({ length: PER_SYMBOL * SYMBOLS.length }, (_, i) => ({
      plan_id: `race-${i}`,
      symbol: SYMBOLS[i % SYMBOLS.length]!,
      action: 'OPEN_LONG',
      decision: 'EXECUTE',
      side: 'BUY',
      qty: '0.001',
      price: '100000',
    }));
    // The governor prices each open at its symbol's mark price.
    for (const symbol of SYMBOLS) await redis.client.hset(keys.marketState(symbol), 'mark_price', '100000');
    await produce(redis.client, streams.applyPlan, plans);
    const decided = await waitFor(
      async () => {
        const events = await governorDecisions(redis.client);
        return events.length >= plans.length ? events : undefined;
      },
      { what: 'every plan decided', timeoutMs: 30_000 },
    );
    await waitFor(async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0, { what: 'all acknowledged' });

    const bodies = await Promise.all(replicas.map(async (r) => (await r.server.inject({ method: 'GET', url: '/metrics' })).body));
    const handledBy = bodies.map((b) => counter(b, 'quantum_gates_messages_total', 'handler="governor"'));
    const conflicts = bodies.reduce((sum, b) => sum + counter(b, 'quantum_gates_commit_conflicts_total', 'handler="governor"'), 0);
    return { plans, decided, handledBy, conflicts };
  }

  function permitsBySymbol(decided: Record<string, string>[]): Record<string, Record<string, string>[]> {
    return Object.fromEntries(SYMBOLS.map((s) => [s, decided.filter((e) => e.symbol === s && e.event === 'permit')]));
  }

  it('never issues two open permits for a symbol inside one cooldown window', async () => {
    const { plans, decided, handledBy, conflicts } = await race({});
    // Both replicas took part, or the race proved nothing.
    expect(handledBy.every((n) => n > 0)).toBe(true);
    // Every entry finished exactly once, by one replica or the other.
    expect(handledBy.reduce((a, b) => a + b, 0)).toBe(plans.length);

    expect(decided).toHaveLength(plans.length);
    for (const [symbol, permits] of Object.entries(permitsBySymbol(decided))) {
      expect(permits, symbol).toHaveLength(1);
      expect(await redis.client.llen(keys.governorExecutions(symbol))).toBe(1);
    }
    const reasons = new Set(decided.filter((e) => e.event === 'block').map((e) => e.reason));
    expect([...reasons]).toEqual(['symbol_cooldown']);
    // Exactly one decision per plan: a permit key or a block key, never both.
    for (const plan of plans) {
      expect(await redis.client.exists(keys.permit(plan.plan_id), keys.governorBlock(plan.plan_id)), plan.plan_id).toBe(1);
    }
    console.info(`race (cooldown 60 s): handled per replica ${handledBy.join(' / ')}, guard conflicts re-run ${conflicts}`);
  });

  it('production path: keeps the 5-minute cap exact: two permits per symbol, not one more', async () => {
    const { plans, decided, handledBy, conflicts } = await race({ APPLY_MODE: 'production', GOV_DISARM_ON_BURST_BREACH: 'false' });
    expect(handledBy.every((n) => n > 0)).toBe(true);
    expect(decided).toHaveLength(plans.length);
    for (const [symbol, permits] of Object.entries(permitsBySymbol(decided))) {
      expect(permits, symbol).toHaveLength(2);
      expect(await redis.client.get(keys.governorSymbolVersion(symbol))).toBe('2');
    }
    const reasons = new Set(decided.filter((e) => e.event === 'block').map((e) => e.reason));
    expect([...reasons]).toEqual(['burst_limit_exceeded']);
    console.info(`race (production burst cap): handled per replica ${handledBy.join(' / ')}, guard conflicts re-run ${conflicts}`);
  });
});
