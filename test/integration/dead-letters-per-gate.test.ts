import { afterEach, describe, expect, it } from 'vitest';
import { deadLetterIndexKey } from '../../runtime/dead-letter.js';
import type { Runtime } from '../../runtime/runtime.js';
import { streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, readStream, startRuntime, waitFor } from '../support/runtime.js';

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
});
