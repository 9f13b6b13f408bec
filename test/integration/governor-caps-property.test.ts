import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReservation, reservedExposure } from '../../handlers/governor/reservations.js';
import type { Position } from '../../handlers/governor/positions.js';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';

/**
 * Issue #23, as a property: over random interleavings of bursts of opens (decided by one to three
 * replicas), fills (a permitted open's position appears as a P3.3 hash), closes (a position's
 * hash goes) and reservation expiries (the clock jumps past GOV_RESERVATION_TIMEOUT_SEC), the
 * book plus the outstanding reservations never exceed a cap, counted as the governor counts them.
 */

const MAX_POSITIONS = 5;
const MAX_TOTAL = 1000;
const TIMEOUT_SEC = 10;
const MARK = 100;

type Op =
  | { readonly kind: 'opens'; readonly qtys: readonly number[]; readonly reuse: boolean }
  | { readonly kind: 'fill'; readonly pick: number }
  | { readonly kind: 'close'; readonly pick: number }
  | { readonly kind: 'expire' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('opens' as const),
      qtys: fc.array(fc.integer({ min: 10, max: 20 }), { minLength: 1, maxLength: 6 }),
      reuse: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('fill' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('close' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const) }) },
);

describe('governor caps: book + reservations never exceed a cap (fast-check, real runtimes)', () => {
  const redis = usePrivateRedis();
  let runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
    runtimes = [];
  });

  it('holds over random opens, fills, closes and expiries across one to three replicas', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(op, { minLength: 4, maxLength: 12 }),
        async (replicas, batchSize, ops) => {
          await Promise.all(runtimes.map((r) => r.stop()));
          runtimes = [];
          await redis.client.flushall();
          // One clock for every replica, moved only by the expiry step.
          let offsetMs = 0;
          const now = () => Date.now() + offsetMs;
          const env = {
            HANDLERS: 'governor',
            GOV_MAX_OPEN_POSITIONS: String(MAX_POSITIONS),
            GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200',
            GOV_MAX_TOTAL_NOTIONAL_USDT: String(MAX_TOTAL),
            GOV_TOTAL_NOTIONAL_COUNTS_TRADE: 'true',
            GOV_RESERVATION_TIMEOUT_SEC: String(TIMEOUT_SEC),
            // The clock jumps: no age limit, no cooldown job on BullMQ's own clock.
            GOV_MAX_PLAN_AGE_SEC: '0',
            GOV_SYMBOL_COOLDOWN_SECONDS: '0',
            BATCH_SIZE: String(batchSize),
          };
          for (let r = 0; r < replicas; r++)
            runtimes.push(await startRuntime(redis.url, { ...env, CONSUMER_NAME: `prop-${r}` }, undefined, { now }));

          let seq = 0;
          let decidedSoFar = 0;
          /** Permitted opens whose permit could still fill (cleared by an expiry). */
          let fillable: { planId: string; symbol: string; qty: number }[] = [];
          const positions = new Map<string, number>();

          for (const step of ops) {
            if (step.kind === 'opens') {
              const plans = step.qtys.map((q) => {
                seq += 1;
                const held = [...positions.keys()];
                const symbol = step.reuse && held.length > 0 ? held[seq % held.length]! : `S${seq}USDT`;
                return {
                  plan_id: `prop-${seq}`,
                  symbol,
                  action: 'OPEN_LONG',
                  decision: 'EXECUTE',
                  side: 'BUY',
                  qty: String(q / 10),
                  price: String(MARK),
                };
              });
              for (const p of plans) await redis.client.hset(keys.marketState(p.symbol), 'mark_price', String(MARK));
              await produce(redis.client, streams.applyPlan, plans);
              decidedSoFar += plans.length;
              const decided = await waitFor(
                async () => {
                  const events = (await readStream(redis.client, streams.governorEvents)).filter(
                    (e) => e.event === 'permit' || e.event === 'block',
                  );
                  return events.length >= decidedSoFar ? events : undefined;
                },
                { what: 'the opens decided', timeoutMs: 20_000 },
              );
              await waitFor(async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0, { what: 'acknowledged' });
              for (const p of plans) {
                if (decided.some((e) => e.plan_id === p.plan_id && e.event === 'permit'))
                  fillable.push({ planId: p.plan_id, symbol: p.symbol, qty: Number(p.qty) });
              }
            } else if (step.kind === 'fill' && fillable.length > 0) {
              const [filled] = fillable.splice(step.pick % fillable.length, 1);
              const qty = (positions.get(filled!.symbol) ?? 0) + filled!.qty;
              positions.set(filled!.symbol, qty);
              // A P3.3 hash as upstream's Position State Brain writes it (microservices/position_state_brain/main.py
              // at 8f5055c52, lines 211-223).
              await redis.client.hset(keys.p33PositionSnapshot(filled!.symbol), {
                position_amt: String(qty),
                side: 'LONG',
                entry_price: String(MARK),
                mark_price: String(MARK),
                unrealized_pnl: '0',
                leverage: '5',
                ts_epoch: String(Math.floor(now() / 1000)),
                source: 'binance_testnet',
              });
            } else if (step.kind === 'close' && positions.size > 0) {
              const symbol = [...positions.keys()][step.pick % positions.size]!;
              positions.delete(symbol);
              await redis.client.del(keys.p33PositionSnapshot(symbol));
            } else if (step.kind === 'expire') {
              offsetMs += (TIMEOUT_SEC + 1) * 1000;
              fillable = [];
            }

            // The invariant, as the governor counts: the book, plus reservations not expired and not shown in it.
            const book: Position[] = [...positions].map(([symbol, qty]) => ({ symbol, qty, notionalUsd: qty * MARK, markPrice: MARK }));
            const flat = await redis.client.zrangebyscore(keys.governorReservations, '-inf', '+inf', 'WITHSCORES');
            const reservations = [];
            for (let i = 0; i < flat.length; i += 2) reservations.push(parseReservation(flat[i]!, flat[i + 1]!)!);
            const reserved = reservedExposure(reservations, book, now());
            const bookNotional = book.reduce((sum, p) => sum + p.notionalUsd, 0);
            expect(book.length + reserved.positions).toBeLessThanOrEqual(MAX_POSITIONS);
            expect(bookNotional + reserved.notional).toBeLessThanOrEqual(MAX_TOTAL + 1e-6);
          }
        },
      ),
      { numRuns: 15, seed: 23, endOnFailure: true },
    );
  }, 120_000);
});
