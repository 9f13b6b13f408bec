import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../app/logging.js';
import { allHandlers } from '../../handlers/index.js';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, governorDecided, metricSum, pendingCount, produce, readyAt, waitFor } from '../support/runtime.js';

/**
 * Issue #59, measured case 5 (item 4): the dead-letter stream's key holds another type (a string),
 * so Redis refuses every dead letter with WRONGTYPE. Before, one plan that had to be dead-lettered
 * waited for its dead letter forever and held every plan behind it: 0 of 4 closes decided in 12 s.
 * A dead letter Redis keeps refusing is given up after the runtime's few tries: logged whole,
 * counted in quantum_gates_dead_letters_lost_total, its entry acknowledged; the closes move.
 */

/** A close as upstream's publish_plan writes it (microservices/apply_layer/main.py at 8f5055c52, lines 673-690). */
const close = (planId: string, symbol: string) => ({
  plan_id: planId,
  symbol,
  action: 'FULL_CLOSE_PROPOSED',
  decision: 'EXECUTE',
  kill_score: '0.1',
  timestamp: String(Date.now() / 1000),
});

/** All four closes decided within this of being sent (they took well under a second when the key was right). */
const DECIDED_WITHIN_MS = 15_000;

describe('a dead-letter stream of the wrong type never holds the exits', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('one invalid plan then 4 closes: the closes decided within the bound, the dead letter logged whole and counted lost, nothing pending', async () => {
    await redis.client.set(streams.deadLetter, 'not a stream');
    const lines: string[] = [];
    const logger = createLogger('warn', {}, { output: { write: (line) => lines.push(line) }, format: 'json' });
    runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'governor', GOV_SYMBOL_COOLDOWN_SECONDS: '0', COMMIT_BACKOFF_MAX_MS: '200' },
      allHandlers,
      { logger },
    );
    const base = String(await runtime.start());
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 at start' });

    // A plan without a symbol: invalid input, a dead letter (test/integration/governor.test.ts).
    const [invalidId] = await produce(redis.client, streams.applyPlan, [
      { plan_id: 'no-symbol', decision: 'EXECUTE', action: 'OPEN_LONG', note: 'kept whole' },
    ]);
    const closes = ['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT'].map((symbol, i) => close(`close-${i}`, symbol));
    await produce(redis.client, streams.applyPlan, closes);

    const decided = await governorDecided(redis.client, closes.length, DECIDED_WITHIN_MS);
    expect(decided.map((e) => `${e.plan_id} ${e.event} ${e.reason}`)).toEqual(closes.map((c) => `${c.plan_id} permit close_bypass`));
    await waitFor(async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0, { what: 'nothing pending' });

    expect(await metricSum(runtime, 'quantum_gates_dead_letters_lost_total', { handler: 'governor', reason: 'invalid_input' })).toBe(1);
    expect(await metricSum(runtime, 'quantum_gates_dead_letters_total')).toBe(0);
    const logged = lines
      .map((line) => JSON.parse(line) as { msg: string; dead_letters?: Record<string, string>[]; err?: string })
      .filter((line) => line.dead_letters !== undefined);
    expect(logged).toHaveLength(1);
    const [letter] = logged[0]!.dead_letters!;
    expect(letter).toMatchObject({ stream: streams.deadLetter, handler: 'governor', reason: 'invalid_input', source_id: invalidId });
    expect(letter!.error).toContain('symbol');
    expect(JSON.parse(letter!.fields!)).toEqual({ plan_id: 'no-symbol', decision: 'EXECUTE', action: 'OPEN_LONG', note: 'kept whole' });
    expect(logged[0]!.err).toContain('WRONGTYPE');
    // The stray key is still there and /ready still names it: a person must fix it.
    expect(await redis.client.type(streams.deadLetter)).toBe('string');
    expect(await readyAt(base)).toMatchObject({ status: 503, body: expect.stringContaining(streams.deadLetter) as unknown });
    expect(await redis.client.exists(keys.permit('no-symbol'))).toBe(0);
  }, 60_000);
});
