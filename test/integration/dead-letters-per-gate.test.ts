import { afterEach, describe, expect, it } from 'vitest';
import { deadLetterFields, deadLetterIndexKey, deadLetterIndexMember } from '../../runtime/engine/dead-letter.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { runCli, runCliJson } from './cli-harness.js';

/** The bound per gate here; the deployment had 100,000 and a flood of 110,000. */
const MAXLEN = 50;
const FLOOD = 120;

describe('dead letters are kept per gate (issue #25 item 13)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it("a flood of one gate's dead letters past DLQ_MAXLEN trims only its own, and every trimmed one is counted", async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor,heat-gate', DLQ_MAXLEN: String(MAXLEN) });
    const r = redis.client;
    // Ten plans the governor cannot read (no symbol), as in the issue.
    for (let i = 0; i < 10; i++) await r.xadd(streams.applyPlan, '*', 'plan_id', `gov-${i}`, 'decision', 'EXECUTE', 'action', 'OPEN_LONG');
    await waitFor(async () => (await metricSum(runtime!, 'quantum_gates_dead_letters_total', { handler: 'governor' })) === 10, {
      what: 'ten governor dead letters',
    });
    // Then a producer bug's flood of proposals the heat gate cannot read.
    const pipeline = r.pipeline();
    for (let i = 0; i < FLOOD; i++)
      pipeline.xadd(streams.harvestProposal, '*', 'symbol', 'eth usdt', 'action', 'FULL_CLOSE', 'plan_id', `bad-${i}`);
    await pipeline.exec();
    await waitFor(async () => (await metricSum(runtime!, 'quantum_gates_dead_letters_total', { handler: 'heat-gate' })) === FLOOD, {
      what: 'the whole flood dead-lettered',
    });

    const letters = await readStream(r, streams.deadLetter);
    const governor = letters.filter((e) => e.handler === 'governor');
    const heatGate = letters.filter((e) => e.handler === 'heat-gate');
    expect(governor.map((e) => JSON.parse(e.fields!) as Record<string, string>).map((f) => f.plan_id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `gov-${i}`),
    );
    // The newest MAXLEN of the flood stay; the rest were trimmed, and counted exactly.
    expect(heatGate.map((e) => (JSON.parse(e.fields!) as Record<string, string>).plan_id)).toEqual(
      Array.from({ length: MAXLEN }, (_, i) => `bad-${FLOOD - MAXLEN + i}`),
    );
    expect(await metricSum(runtime, 'quantum_gates_dead_letters_trimmed_total', { handler: 'heat-gate' })).toBe(FLOOD - MAXLEN);
    expect(await metricSum(runtime, 'quantum_gates_dead_letters_trimmed_total', { handler: 'governor' })).toBe(0);
    expect(await r.zcard(deadLetterIndexKey(streams.deadLetter, 'heat-gate'))).toBe(MAXLEN);
    expect(await r.zcard(deadLetterIndexKey(streams.deadLetter, 'governor'))).toBe(10);
  });

  /** Proposals the heat gate cannot read, dead-lettered by the running runtime; returns their dead-letter ids, oldest first. */
  async function floodHeatGate(count: number, prefix: string): Promise<string[]> {
    const before = await metricSum(runtime!, 'quantum_gates_dead_letters_total', { handler: 'heat-gate' });
    const pipeline = redis.client.pipeline();
    for (let i = 0; i < count; i++)
      pipeline.xadd(streams.harvestProposal, '*', 'symbol', 'eth usdt', 'action', 'FULL_CLOSE', 'plan_id', `${prefix}-${i}`);
    await pipeline.exec();
    await waitFor(
      async () => (await metricSum(runtime!, 'quantum_gates_dead_letters_total', { handler: 'heat-gate' })) === before + count,
      {
        what: `${count} more heat-gate dead letters`,
      },
    );
    const letters = await redis.client.xrange(streams.deadLetter, '-', '+');
    return letters.filter(([, f]) => f[f.indexOf('handler') + 1] === 'heat-gate').map(([id]) => id);
  }

  it('an upgrade keeps the dead letters of before in the stream, untrimmed by the bound, listable and replayable', async () => {
    const r = redis.client;
    // A dead letter as the runtime wrote it before the per-gate bound: in the stream, in no index.
    const old = deadLetterFields({
      handler: 'heat-gate',
      sourceStream: streams.harvestProposal,
      sourceId: '1769581931990-0',
      group: 'p26_heat_gate',
      reason: 'handler_failed',
      detail: 'Error: Connection is closed.',
      attempts: 3,
      raw: { symbol: 'ETHUSDT', action: 'FULL_CLOSE', plan_id: 'before-upgrade', timestamp: '1769581931' },
      at: 1769581932000,
    });
    await r.xadd(streams.deadLetter, '1769581932000-0', ...Object.entries(old).flat());
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate', DLQ_MAXLEN: '5' });

    await floodHeatGate(8, 'new');

    const listed = await runCliJson<{ total: number; entries: { id: string }[] }>(['dlq', 'list', '--limit', '100'], {
      REDIS_URL: redis.url,
    });
    expect(listed.total).toBe(6);
    expect(listed.entries.map((e) => e.id)).toContain('1769581932000-0');
    expect(await metricSum(runtime, 'quantum_gates_dead_letters_trimmed_total', { handler: 'heat-gate' })).toBe(3);
    const dryRun = await runCli(['dlq', 'replay', '1769581932000-0', '--dry-run'], { REDIS_URL: redis.url });
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toContain(`would replay 1769581932000-0 to ${streams.harvestProposal}`);
  });

  it("a dead letter dropped or replayed leaves its gate's index, so it no longer takes a place of the bound", async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate', DLQ_MAXLEN: '3' });
    const index = deadLetterIndexKey(streams.deadLetter, 'heat-gate');
    const [a, b, c] = await floodHeatGate(3, 'first');

    const dropped = await runCli(['dlq', 'drop', a!, '--reason', 'test'], { REDIS_URL: redis.url });
    expect(dropped.code, dropped.stderr).toBe(0);
    const replayed = await runCli(['dlq', 'replay', b!, '--force', '--reason', 'test'], { REDIS_URL: redis.url });
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(await redis.client.zscore(index, deadLetterIndexMember(a!))).toBeNull();
    expect(await redis.client.zscore(index, deadLetterIndexMember(b!))).toBeNull();
    // The replayed proposal is still unreadable: it is dead-lettered again, under a new id.
    await waitFor(async () => (await metricSum(runtime!, 'quantum_gates_dead_letters_total', { handler: 'heat-gate' })) === 4, {
      what: 'the replayed proposal dead-lettered again',
    });
    expect(await redis.client.zcard(index)).toBe(2);

    // Two more: the gate holds its three newest, and only c made room for them.
    const after = await floodHeatGate(2, 'second');
    expect(after).toHaveLength(3);
    expect(after).not.toContain(c);
    expect(await metricSum(runtime, 'quantum_gates_dead_letters_trimmed_total', { handler: 'heat-gate' })).toBe(1);
  });
});
