import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { indexRefreshAfterNow, pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { worldTime } from '../support/clock.js';

/**
 * Issues #23 and #37, as a property: one to three governor replicas (real runtimes, one private
 * redis-server) against a model of the exchange. The model holds each symbol's position and each
 * permitted order still able to fill; the steps are bursts of opens (new symbols, adds on held
 * ones, some without a price), partial and complete fills, partial and complete closes,
 * rejections reported on apply.result, reservation expiry (the clock jumps) and the kill switch.
 * New symbols are in no P3.3 list and the index's sweep is off: only the governor's own watch
 * brings their fills into the book. After every step, what the exchange holds plus every order
 * still able to fill (the worst the next fills can do) stays within the caps: positions <= cap;
 * total notional <= cap, plus one trade in default mode, none with GOV_TOTAL_NOTIONAL_COUNTS_TRADE.
 *
 * Fills and closes also write marks of 0 or none into the position hashes themselves: such a
 * position is still a slot, and its notional comes from another producer's mark or blocks opens.
 *
 * Producers lie (issue #49): the price feed writes a fresh absurd tick (1e-9), a unit slip (the
 * mark / 1,000), or a quote stamped ten minutes ahead, on a held symbol or on an open's own symbol,
 * while another producer (the market state) holds the true mark; and some opens carry no price of
 * their own to cross-check. No single producer's figure may make exposure look smaller.
 */

const MAX_POSITIONS = 5;
const MAX_TOTAL = 1000;
const PER_TRADE = 200;
const TIMEOUT_SEC = 10;
const MARK = 100;
const DUST = 0.0001;

type Mark = 'priced' | 'zero' | 'missing';
/** A price feed's lie: a fresh absurd tick, a unit slip (÷ 1,000), a quote stamped 10 min ahead. */
type Lie = 'tick' | 'slip' | 'future';
interface OpenPlan {
  readonly held: boolean;
  readonly qty: number;
  readonly priced: boolean;
  /** Whether the plan carries its own `price` (a cross-check) or none. */
  readonly withPrice: boolean;
  readonly lie: Lie | undefined;
}
type Op =
  | { readonly kind: 'opens'; readonly plans: readonly OpenPlan[] }
  | { readonly kind: 'lie'; readonly pick: number; readonly lie: Lie }
  | { readonly kind: 'fill'; readonly pick: number; readonly share: number; readonly mark: Mark }
  | { readonly kind: 'close'; readonly pick: number; readonly share: 0.25 | 0.5 | 1; readonly mark: Mark }
  | { readonly kind: 'reject'; readonly pick: number }
  | { readonly kind: 'expire' }
  | { readonly kind: 'kill'; readonly on: boolean };

const mark: fc.Arbitrary<Mark> = fc.constantFrom<Mark>('priced', 'priced', 'zero', 'missing');
const lie: fc.Arbitrary<Lie> = fc.constantFrom<Lie>('tick', 'slip', 'future');

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('opens' as const),
      plans: fc.array(
        fc.record({
          held: fc.boolean(),
          qty: fc.integer({ min: 10, max: 20 }),
          priced: fc.constantFrom(true, true, true, false),
          withPrice: fc.boolean(),
          lie: fc.option(lie, { nil: undefined, freq: 3 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('fill' as const),
      pick: fc.nat(),
      // Tenths of the order's remaining quantity; 10 completes it.
      share: fc.integer({ min: 1, max: 10 }),
      mark,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('close' as const), pick: fc.nat(), share: fc.constantFrom(0.25, 0.5, 1 as const), mark }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reject' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('lie' as const), pick: fc.nat(), lie }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const) }) },
  // Mostly off again: a switch left on only blocks, and the steps after it test nothing.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), on: fc.constantFrom(true, false, false) }) },
);

/** A permitted order the exchange may still fill. */
interface Order {
  readonly planId: string;
  readonly symbol: string;
  remaining: number;
  filled: number;
}

describe('governor caps against a model of the exchange (fast-check, real runtimes)', () => {
  const redis = usePrivateRedis();
  let runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
    runtimes = [];
  });

  it('holds over opens, partial and complete fills and closes, adds, rejections, expiry, the kill switch and lying price feeds, one to three replicas', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        fc.array(op, { minLength: 4, maxLength: 14 }),
        async (replicas, batchSize, countsTrade, bookSize, ops) => {
          await Promise.all(runtimes.map((r) => r.stop()));
          runtimes = [];
          await redis.client.flushall();
          // One clock for every replica, moved only by the expiry step.
          let offsetMs = 0;
          const now = () => Date.now() + offsetMs;
          const exchange = new Map<string, number>();
          let orders: Order[] = [];

          /** A P3.3 hash as upstream's Position State Brain writes it (position_state_brain/main.py at 8f5055c52, lines 211-223). */
          const setPosition = async (symbol: string, amt: number, markKind: Mark) => {
            const key = keys.p33PositionSnapshot(symbol);
            if (Math.abs(amt) <= DUST) {
              exchange.delete(symbol);
              await redis.client.del(key);
              return;
            }
            exchange.set(symbol, amt);
            await redis.client.del(key);
            await redis.client.hset(key, {
              position_amt: String(amt),
              side: amt >= 0 ? 'LONG' : 'SHORT',
              entry_price: String(MARK),
              ...(markKind === 'missing' ? {} : { mark_price: markKind === 'zero' ? '0' : String(MARK) }),
              unrealized_pnl: '0',
              leverage: '5',
              ts_epoch: String(Math.floor(now() / 1000)),
              source: 'binance_testnet',
            });
          };

          /**
           * The price feed's lie on `symbol` (its ticker as microservices/price_feed at 73fab1f55 `publish_price`
           * writes it: markPrice, timestamp in ms), beside the market state's true mark.
           */
          const tell = async (symbol: string, told: Lie) => {
            await redis.client.hset(keys.marketState(symbol), 'mark_price', String(MARK));
            const price = told === 'tick' ? '0.000000001' : String(MARK / 1000);
            const at = told === 'future' ? now() + 600_000 : now();
            await redis.client.hset(keys.ticker(symbol), { symbol, markPrice: price, timestamp: String(Math.round(at)) });
          };

          const book = Array.from({ length: bookSize }, (_, i) => `BOOK${i}USDT`);
          for (const symbol of book) await setPosition(symbol, 1.5, 'priced');
          const env = {
            HANDLERS: 'governor,position-index,governor-reservation-results',
            GOV_MAX_OPEN_POSITIONS: String(MAX_POSITIONS),
            GOV_MAX_NOTIONAL_PER_TRADE_USDT: String(PER_TRADE),
            GOV_MAX_TOTAL_NOTIONAL_USDT: String(MAX_TOTAL),
            GOV_TOTAL_NOTIONAL_COUNTS_TRADE: String(countsTrade),
            GOV_RESERVATION_TIMEOUT_SEC: String(TIMEOUT_SEC),
            // The clock jumps: no age limit, no cooldown job on BullMQ's own clock.
            GOV_MAX_PLAN_AGE_SEC: '0',
            GOV_SYMBOL_COOLDOWN_SECONDS: '0',
            POSITION_INDEX_REFRESH_SEC: '1',
            // The book's symbols are P3.3's list; every other symbol is in none, and no sweep finds it.
            POSITION_P33_SYMBOLS: book.join(','),
            POSITION_INDEX_SCAN_STEPS: '0',
            BATCH_SIZE: String(batchSize),
          };
          for (let r = 0; r < replicas; r++)
            runtimes.push(await startRuntime(redis.url, { ...env, CONSUMER_NAME: `prop-${r}` }, undefined, worldTime(now)));
          await waitFor(async () => (await redis.client.scard(keys.p33PositionIndex)) === book.length, { what: 'the book indexed' });

          let seq = 0;
          let decidedSoFar = 0;
          for (const step of ops) {
            if (step.kind === 'opens') {
              const held = [...exchange.keys()];
              const plans = step.plans.map(({ held: onHeld, qty, priced, withPrice, lie: told }) => {
                seq += 1;
                const symbol = onHeld && held.length > 0 ? held[seq % held.length]! : `S${seq}USDT`;
                return { plan_id: `prop-${seq}`, symbol, qty: qty / 10, priced, withPrice, told };
              });
              for (const p of plans)
                if (p.priced) {
                  await redis.client.hset(keys.marketState(p.symbol), 'mark_price', String(MARK));
                  // A lie only beside a true mark: a symbol only one producer prices is priced by it.
                  if (p.told !== undefined) await tell(p.symbol, p.told);
                } else {
                  await redis.client.hdel(keys.marketState(p.symbol), 'mark_price');
                  await redis.client.del(keys.ticker(p.symbol));
                }
              // An open on apply.plan: upstream's publish_plan fields (apply_layer/main.py at 8f5055c52, lines 673-690).
              await produce(
                redis.client,
                streams.applyPlan,
                plans.map((p) => ({
                  plan_id: p.plan_id,
                  symbol: p.symbol,
                  action: 'OPEN_LONG',
                  decision: 'EXECUTE',
                  side: 'BUY',
                  qty: String(p.qty),
                  ...(p.withPrice ? { price: String(MARK) } : {}),
                  timestamp: String(now() / 1000),
                })),
              );
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
              for (const p of plans)
                if (decided.some((e) => e.plan_id === p.plan_id && e.event === 'permit'))
                  orders.push({ planId: p.plan_id, symbol: p.symbol, remaining: p.qty, filled: 0 });
            } else if (step.kind === 'fill' && orders.length > 0) {
              const order = orders[step.pick % orders.length]!;
              const qty = step.share === 10 ? order.remaining : (order.remaining * step.share) / 10;
              order.remaining -= qty;
              order.filled += qty;
              if (order.remaining <= DUST) orders = orders.filter((o) => o !== order);
              await setPosition(order.symbol, (exchange.get(order.symbol) ?? 0) + qty, step.mark);
            } else if (step.kind === 'close' && exchange.size > 0) {
              const symbol = [...exchange.keys()][step.pick % exchange.size]!;
              const amt = exchange.get(symbol)!;
              await setPosition(symbol, step.share === 1 ? 0 : amt * (1 - step.share), step.mark);
            } else if (step.kind === 'reject') {
              // The Apply Layer refuses an order before it goes out (apply_layer/main.py at 8f5055c52, lines 762-918):
              // publish_result (lines 1315-1329) writes executed False and the error.
              const unfilled = orders.filter((o) => o.filled === 0);
              if (unfilled.length > 0) {
                const order = unfilled[step.pick % unfilled.length]!;
                orders = orders.filter((o) => o !== order);
                const [id] = await produce(redis.client, streams.applyResult, [
                  {
                    plan_id: order.planId,
                    symbol: order.symbol,
                    decision: 'BLOCKED',
                    executed: 'False',
                    would_execute: 'False',
                    steps_results: '[]',
                    error: 'p33_permit_denied',
                    timestamp: String(Math.floor(now() / 1000)),
                  },
                ]);
                await waitFor(
                  async () => {
                    const infos = (await redis.client.xinfo('GROUPS', streams.applyResult)) as unknown[][];
                    const group = infos.map((g) => Object.fromEntries(chunks(g))).find((g) => g.name === 'governor-reservations');
                    return group !== undefined && group.pending === 0 && group['last-delivered-id'] === id;
                  },
                  { what: 'the result handled' },
                );
              }
            } else if (step.kind === 'lie' && exchange.size > 0) {
              await tell([...exchange.keys()][step.pick % exchange.size]!, step.lie);
            } else if (step.kind === 'expire') {
              // A reservation outlives an index refresh many times over: let one pass before it lapses.
              await indexRefreshAfterNow(runtimes[0]!, 'an index refresh begun after the steps before');
              offsetMs += (TIMEOUT_SEC + 1) * 1000;
              // The timeout's premise: an order that has not filled by then never will.
              orders = [];
            } else if (step.kind === 'kill') {
              await redis.client.set(keys.killSwitch, step.on ? '1' : '0');
            }

            // The worst the exchange can come to: its positions now plus every order still able to fill.
            const open = new Set([...exchange].filter(([, amt]) => Math.abs(amt) > DUST).map(([symbol]) => symbol));
            const positions = open.size + new Set(orders.filter((o) => !open.has(o.symbol)).map((o) => o.symbol)).size;
            const notional = [...exchange.values()].reduce((sum, amt) => sum + Math.abs(amt) * MARK, 0);
            const pending = orders.reduce((sum, o) => sum + o.remaining * MARK, 0);
            expect(positions).toBeLessThanOrEqual(MAX_POSITIONS);
            expect(notional + pending).toBeLessThanOrEqual(MAX_TOTAL + (countsTrade ? 0 : PER_TRADE) + 1e-6);
          }
        },
      ),
      { numRuns: 20, seed: Number(process.env.GOV_PROPERTY_SEED ?? 37), endOnFailure: true },
    );
  }, 120_000);
});

/** XINFO's flat [name, value, name, value, ...] as pairs. */
function chunks(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}
