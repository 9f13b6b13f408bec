import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { governor } from '../../handlers/governor/index.js';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keyContents } from '../support/key-contents.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { worldTime } from '../support/clock.js';
import { p33SeedHash } from '../support/book-producers.js';

/**
 * Shared runs of the governor's own keys (OwnKeys) as a property: a backlog of plans decided in batches of 2 to 16, whose
 * plans share a state read where the governor's rule lets them, writes exactly what the same
 * backlog decided one plan at a time (BATCH_SIZE=1: each plan read after the one before it
 * committed) writes: every event field for field, every permit, block, reservation, version,
 * history, cooldown, daily total, exit lock and disarm. The plans crowd a few symbols (so a plan
 * often follows one of its own symbol), repeat plan_ids with the same and with other content, and
 * meet caps that bind and a burst limit that disarms, on both the testnet and the production path; the clock stands still, so
 * the two runs read the same time.
 */

const MARK = 100;
const SYMBOLS = ['AAAUSDT', 'BBBUSDT', 'CCCUSDT', 'DDDUSDT', 'EEEUSDT'];
/** P3.3 reports positions on the first two. */
const HELD = SYMBOLS.slice(0, 2);

interface PlanSpec {
  readonly symbol: number;
  readonly kind: 'open_long' | 'open_short' | 'full_close' | 'partial_close';
  readonly qty: number;
  /** Repeat the plan this many back (same plan_id), as it was or on another symbol. */
  readonly repeat: { readonly back: number; readonly sameContent: boolean } | undefined;
}

const planSpec: fc.Arbitrary<PlanSpec> = fc.record({
  symbol: fc.integer({ min: 0, max: SYMBOLS.length - 1 }),
  kind: fc.constantFrom('open_long', 'open_long', 'open_short', 'full_close', 'partial_close'),
  qty: fc.constantFrom(0.5, 1, 1.5, 3),
  repeat: fc.option(fc.record({ back: fc.integer({ min: 1, max: 6 }), sameContent: fc.boolean() }), { nil: undefined, freq: 5 }),
});

const ACTION = {
  open_long: 'OPEN_LONG',
  open_short: 'OPEN_SHORT',
  full_close: 'FULL_CLOSE_PROPOSED',
  partial_close: 'PARTIAL_75',
} as const;

/**
 * A plan on apply.plan: the fields upstream's publish_plan writes (microservices/apply_layer/main.py
 * at 8f5055c52, lines 673-690: plan_id, symbol, action, kill_score, decision, price, timestamp),
 * with the side and qty an open carries and reduceOnly on a partial close.
 */
function planFields(planId: string, spec: PlanSpec, symbolAt: number, now: number): Record<string, string> {
  const symbol = SYMBOLS[symbolAt]!;
  const base = {
    plan_id: planId,
    symbol,
    action: ACTION[spec.kind],
    kill_score: '0.1',
    decision: 'EXECUTE',
    timestamp: String(now / 1000),
  };
  if (spec.kind === 'full_close') return base;
  if (spec.kind === 'partial_close') return { ...base, side: 'SELL', qty: String(spec.qty), reduceOnly: 'true' };
  return { ...base, side: spec.kind === 'open_long' ? 'BUY' : 'SELL', qty: String(spec.qty), price: String(MARK) };
}

/** Entries of apply.plan the governor's group has not read yet (XINFO GROUPS' lag). */
async function groupLag(redis: Redis): Promise<number> {
  const [group] = (await redis.xinfo('GROUPS', streams.applyPlan)) as unknown[][];
  const at = group!.indexOf('lag');
  return Number(group![at + 1]);
}

/** Every key a decision may write, with its value read by type, and whether it expires. */
async function decisionKeys(redis: Redis): Promise<Record<string, unknown>> {
  const found: string[] = [];
  for (const pattern of ['quantum:permit:*', 'quantum:governor:*', 'quantum:gates:permitted:*', 'quantum:exit:lock:*']) {
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return keyContents(redis, found);
}

describe('plans sharing a state read decide as one at a time (read/write overlap of their own keys)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('writes what BATCH_SIZE=1 writes, for any backlog of crowded, repeated and capped plans, on testnet and production', async () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('testnet', 'production'),
        fc.integer({ min: 2, max: 16 }),
        fc.constantFrom('0', '60'),
        // A burst of 1 in 5 minutes: on production, a symbol's second plan is blocked and disarms the governor.
        fc.constantFrom('0', '1'),
        fc.array(planSpec, { minLength: 2, maxLength: 24 }),
        async (mode, batchSize, cooldown, burst, specs) => {
          /** The backlog's entries, the same ids and fields in each run. */
          const entries: [string, Record<string, string>][] = [];
          for (const [i, spec] of specs.entries()) {
            const earlier = spec.repeat && entries[i - spec.repeat.back];
            const planId = earlier ? earlier[1].plan_id! : `plan-${i}`;
            const repeated = earlier && spec.repeat?.sameContent ? earlier[1] : planFields(planId, spec, spec.symbol, now);
            entries.push([`${now}-${i + 1}`, repeated]);
          }
          const run = async (size: number) => {
            await redis.client.flushall();
            for (const symbol of SYMBOLS) await redis.client.hset(keys.marketState(symbol), 'mark_price', String(MARK));
            // As P3.3 writes a held symbol's hash (book-producers.ts cites upstream's lines).
            for (const symbol of HELD) await redis.client.hset(keys.p33PositionSnapshot(symbol), p33SeedHash(2, MARK, now / 1000));
            await redis.client.sadd(keys.p33PositionIndex, ...HELD);
            for (const [id, fields] of entries) await redis.client.xadd(streams.applyPlan, id, ...Object.entries(fields).flat());
            runtime = await startRuntime(
              redis.url,
              {
                APPLY_MODE: mode,
                BATCH_SIZE: String(size),
                GOV_MAX_PLAN_AGE_SEC: '0',
                GOV_SYMBOL_COOLDOWN_SECONDS: cooldown,
                GOV_MAX_EXEC_PER_HOUR: '2',
                GOV_MAX_EXEC_PER_5MIN: burst,
                GOV_MAX_OPEN_POSITIONS: '4',
                GOV_MAX_TOTAL_NOTIONAL_USDT: '650',
                GOV_MAX_REDUCE_QTY_PER_DAY: '3',
              },
              [governor],
              worldTime(() => now),
            );
            await waitFor(
              async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0 && (await groupLag(redis.client)) === 0,
              {
                what: 'every plan decided',
              },
            );
            await runtime.stop();
            runtime = undefined;
            const events = (await readStream(redis.client, streams.governorEvents)).map(({ _id, ...fields }) => fields);
            return { events, keys: await decisionKeys(redis.client) };
          };
          const oneAtATime = await run(1);
          const shared = await run(batchSize);
          expect(shared.events).toEqual(oneAtATime.events);
          expect(shared.keys).toEqual(oneAtATime.keys);
          expect(oneAtATime.events.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 60 },
    );
  }, 600_000);
});
