import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { epochMs } from '../../domain/epoch.js';
import { governor } from '../../handlers/governor/index.js';
import { keys } from '../../schemas/keys.js';
import { runHandler } from '../support/fake-ctx.js';

const NOW = 1_800_000_000_000;
const MARK = 100_000;
const MARKET = { [keys.marketState('BTCUSDT')]: { mark_price: String(MARK) } };

/** A well-formed open: a qty, its figures at the market, stamped now, written now. */
interface WellFormed {
  readonly qty: number;
  readonly withPrice: boolean;
  readonly withNotional: boolean;
  readonly withTimestamp: boolean;
}

interface Variant {
  readonly fields: Record<string, string>;
  /** The entry's time (ms), when the variant moves it. */
  readonly producedAt?: number;
}

function wellFormedFields(p: WellFormed): Record<string, string> {
  return {
    plan_id: 'plan-p',
    symbol: 'BTCUSDT',
    action: 'OPEN',
    decision: 'EXECUTE',
    side: 'BUY',
    qty: String(p.qty),
    ...(p.withPrice ? { price: String(MARK) } : {}),
    ...(p.withNotional ? { notional: String(p.qty * MARK) } : {}),
    ...(p.withTimestamp ? { timestamp: String(NOW / 1000) } : {}),
  };
}

const wellFormed = fc.record({
  qty: fc.constantFrom(0.0001, 0.0005, 0.001, 0.0015, 0.002, 0.0021, 0.01, 1),
  withPrice: fc.boolean(),
  withNotional: fc.boolean(),
  withTimestamp: fc.boolean(),
});

/** Ways a producer, a replay or an attacker can change a plan without changing what it buys. */
const variantOf = (p: WellFormed): fc.Arbitrary<Variant> => {
  const base = wellFormedFields(p);
  return fc.oneof(
    // garbled or disagreeing figures
    fc.constantFrom('0', '0.0', '1e-9', '1', '0.5', String(MARK / 1000)).map((price) => ({ fields: { ...base, price } })),
    fc.constantFrom('0', '1', '100', '1000000', '5000000').map((notional) => ({ fields: { ...base, notional } })),
    fc.constantFrom('0', '0.0').map((qty) => ({ fields: { ...base, qty, notional: String(p.qty * MARK) } })),
    fc.constant({ fields: { ...base, qty: String(p.qty / 1000), notional: String(p.qty * MARK) } }),
    // times: stale, ahead, in other units, in no unit
    fc.integer({ min: 301, max: 86_400 }).map((s) => ({ fields: { ...base, timestamp: String(NOW / 1000 - s) } })),
    fc.integer({ min: 6, max: 86_400 }).map((s) => ({ fields: { ...base, timestamp: String(NOW / 1000 + s) } })),
    fc
      .constantFrom(String(NOW * 1000), String(NOW * 1_000_000), String(NOW - 600_000), '99999999999', '-1')
      .map((timestamp) => ({ fields: { ...base, timestamp } })),
    fc.integer({ min: 301, max: 86_400 }).map((s) => ({ fields: { ...base, timestamp: String(NOW / 1000) }, producedAt: NOW - s * 1000 })),
    // replayed from a dead letter first written long ago
    fc
      .integer({ min: 301, max: 86_400 })
      .map((s) => ({ fields: { ...base, original_id: `${NOW - s * 1000}-0`, replayed_from: `${NOW - 1000}-0` } })),
  );
};

async function permitted(fields: Record<string, string>, producedAt = NOW): Promise<boolean> {
  let run;
  try {
    run = await runHandler(governor, fields, { now: NOW, redis: { hashes: MARKET }, meta: { producedAt } });
  } catch {
    return false; // invalid input: dead-lettered by the runtime, never permitted
  }
  return run.recorder.effects.some((e) => e.op === 'setKey' && e.key === keys.permit(String(fields.plan_id)));
}

describe('the governor: no variant of a plan buys a permit its well-formed plan would not get', () => {
  it('holds for garbled, disagreeing, replayed and stale variants (fast-check, 300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        wellFormed.chain((p) => fc.tuple(fc.constant(p), variantOf(p))),
        async ([p, variant]) => {
          const variantPermitted = await permitted(variant.fields, variant.producedAt);
          if (variantPermitted) expect(await permitted(wellFormedFields(p))).toBe(true);
        },
      ),
      { numRuns: 300, seed: 20261122 },
    );
  });

  it('and every variant that changes its figures or its time is blocked outright', async () => {
    await fc.assert(
      fc.asyncProperty(
        wellFormed.chain((p) => variantOf(p)),
        async (variant) => {
          const { fields } = variant;
          // A variant whose changed figure still agrees with the market (a price within 5%) is the same plan.
          const price = fields.price === undefined ? MARK : Number(fields.price);
          const agreesOnPrice = Math.abs(price - MARK) <= MARK * 0.05;
          const notional = fields.notional === undefined ? undefined : Number(fields.notional);
          const qty = Number(fields.qty);
          const agreesOnNotional = notional === undefined || Math.abs(notional - qty * MARK) <= qty * MARK * 0.05;
          // The same moment in another unit (µs, ns) is the same plan.
          const stampedMs = fields.timestamp === undefined ? undefined : epochMs(Number(fields.timestamp));
          const timed = stampedMs !== undefined && Math.abs(stampedMs - NOW) < 1000;
          const fresh =
            (variant.producedAt ?? NOW) === NOW && fields.original_id === undefined && (fields.timestamp === undefined || timed);
          if (!(agreesOnPrice && agreesOnNotional && qty > 0 && fresh)) expect(await permitted(fields, variant.producedAt)).toBe(false);
        },
      ),
      { numRuns: 300, seed: 20261123 },
    );
  });
});
