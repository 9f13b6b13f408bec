import { afterAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, pendingCount, produce, startRuntime, waitFor } from '../support/runtime.js';

describe('heat bridge with two replicas on one consumer group', () => {
  const redis = usePrivateRedis();
  const runtimes: Runtime[] = [];
  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
  });

  it('writes each plan once however its repeats split between replicas, and latest never moves backward', async () => {
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
    const plans = 150;
    // Every plan appears twice (the heat gate re-deciding a plan), the repeat one or two entries
    // later, so replicas race on it; a final decision per symbol, never repeated, closes the stream.
    const entries: Record<string, string>[] = [];
    const decision = (planId: string, symbol: string) => ({
      ts_epoch: '1800000000',
      symbol,
      plan_id: planId,
      out_action: 'PARTIAL_25',
      heat_action: 'NONE',
    });
    for (let i = 0; i < plans; i++) {
      entries.push(decision(`plan-${i}`, symbols[i % symbols.length]!));
      if (i >= 2) entries.push(decision(`plan-${i - 2}`, symbols[(i - 2) % symbols.length]!));
    }
    entries.push(
      decision(`plan-${plans - 2}`, symbols[(plans - 2) % symbols.length]!),
      decision(`plan-${plans - 1}`, symbols[(plans - 1) % symbols.length]!),
    );
    for (const symbol of symbols) entries.push(decision(`final-${symbol}`, symbol));
    const env = { HANDLERS: 'heat-bridge', BATCH_SIZE: '7' };
    runtimes.push(await startRuntime(redis.url, env), await startRuntime(redis.url, env));
    await produce(redis.client, streams.heatDecision, entries);

    // Done when the group has read every entry and acknowledged all of them.
    await waitFor(
      async () => {
        const [group = []] = (await redis.client.xinfo('GROUPS', streams.heatDecision)) as unknown[][];
        const info: Record<string, unknown> = {};
        for (let i = 0; i + 1 < group.length; i += 2) info[String(group[i])] = group[i + 1];
        return info['entries-read'] === entries.length && info.pending === 0;
      },
      { timeoutMs: 30_000, what: `${entries.length} decisions read and acknowledged` },
    );
    expect(await pendingCount(redis.client, streams.heatDecision, 'heat_bridge')).toBe(0);
    expect(await redis.client.xlen('quantum:stream:dlq')).toBe(0);

    const sum = async (name: string, labels?: Record<string, string>) =>
      (await Promise.all(runtimes.map((r) => metricSum(r, name, labels)))).reduce((a, b) => a + b, 0);
    // Counters are applied just after each commit's reply: poll rather than race the last one.
    const byPlan = await waitFor(
      async () => {
        const written = await sum('p27_written_total', { kind: 'by_plan' });
        return written >= plans + symbols.length ? written : undefined;
      },
      { what: 'by_plan writes counted' },
    );
    expect(byPlan).toBe(plans + symbols.length);
    // Every entry handled once (commit 868b23f stopped a conflicted message being re-run twice).
    expect((await sum('p27_in_messages_total')) + (await sum('p27_dedupe_skips_total'))).toBe(entries.length);
    expect(await sum('p27_dedupe_skips_total')).toBe(plans);
    for (let i = 0; i < plans; i++) expect(await redis.client.exists(keys.heatByPlan(`plan-${i}`))).toBe(1);

    // Whatever order the replicas committed in, latest moved only forward: it ends on the final one.
    for (const symbol of symbols) {
      expect(await redis.client.get(keys.heatLatestPlanId(symbol)), symbol).toBe(`final-${symbol}`);
      expect(await redis.client.hget(keys.heatLatest(symbol), 'last_plan_id'), symbol).toBe(`final-${symbol}`);
    }
  });
});
