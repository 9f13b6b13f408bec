import { describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { openPriceUntrusted } from '../../handlers/governor/gates.js';
import type { GovernorSnapshot } from '../../handlers/governor/snapshot.js';
import type { PlanFacts } from '../../handlers/governor/plan.js';
import type { Limits } from '../../handlers/governor/config.js';
import { assessHeat, provenHeat, type HeatAssessment } from '../../handlers/positions/heat.js';
import { loadPositionBook, STAMPED_AHEAD } from '../../handlers/positions/book.js';
import { quoteRefusalsOf, refusedQuotes, type PriceQuote } from '../../handlers/positions/prices.js';
import { keys, streams } from '../../schemas/keys.js';
import { runHandler } from '../support/fake-ctx.js';
import { FakeRedisReader, type FakeRedisData } from '../support/fake-redis-reader.js';

/**
 * Issue #70 item 3: a refusal never raises trust in what remains. The governor prices and sizes a
 * symbol with a refused quote or figure as unknown for opens; the heat gate decides HOT where the
 * figures it trusts prove it, and fails closed by name where they cannot. Fake ctx and pure functions;
 * test/integration/refusals-compose.test.ts runs the measured cases through the real runtime.
 */

const NOW = 1_800_000_000_000;
const EVENTS = streams.governorEvents;
const AHEAD = NOW + 600_000;

/** An open of 1 ONEKUSDT as upstream's apply layer publishes it (no price, no notional). */
const open = (symbol = 'ONEKUSDT', fields: Record<string, string> = {}) => ({
  plan_id: 'plan-1',
  symbol,
  action: 'OPEN_LONG',
  decision: 'EXECUTE',
  side: 'BUY',
  qty: '1',
  ...fields,
});

const decided = async (raw: Record<string, string>, redis: FakeRedisData) => {
  const run = await runHandler(governor, raw, { now: NOW, redis, env: { GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200' } });
  return { run, event: run.emitted(EVENTS)[0] as Record<string, string> };
};

describe('governor: a refused quote of the plan’s symbol leaves its price unknown for an open', () => {
  it('ticker stamped ahead + market state at 1/1000: blocked market_price_unknown naming the ticker (not permitted at $1.50)', async () => {
    const { event } = await decided(open(), {
      hashes: {
        [keys.ticker('ONEKUSDT')]: { markPrice: '1500', timestamp: String(AHEAD) },
        [keys.marketState('ONEKUSDT')]: { mark_price: '1.5' },
      },
    });
    expect(event).toMatchObject({ event: 'block', reason: 'market_price_unknown', refused_inputs: 'ticker:future', mark_price: '1.5' });
  });

  it.each([
    ['a price no number', { markPrice: 'n/a', timestamp: String(NOW - 500) }, 'ticker:unparsable'],
    ['a time no number', { markPrice: '1500', timestamp: 'soon' }, 'ticker:unparsable'],
  ])('a ticker with %s beside the market state: blocked, named', async (_what, ticker, named) => {
    const { run, event } = await decided(open(), {
      hashes: { [keys.ticker('ONEKUSDT')]: ticker, [keys.marketState('ONEKUSDT')]: { mark_price: '1.5' } },
    });
    expect(event).toMatchObject({ event: 'block', reason: 'market_price_unknown', refused_inputs: named });
    expect(run.metrics.get('quantum_govern_price_quotes_refused_total', { source: 'ticker', reason: 'unparsable' })).toBe(1);
  });

  it('a ticker key of another type beside the market state: blocked, named unreadable', async () => {
    const { event } = await decided(open(), {
      strings: { [keys.ticker('ONEKUSDT')]: 'not a hash' },
      hashes: { [keys.marketState('ONEKUSDT')]: { mark_price: '1.5' } },
    });
    expect(event).toMatchObject({ event: 'block', reason: 'market_price_unknown', refused_inputs: 'ticker:unreadable' });
  });

  it('no refusal: the open is priced as ever (the highest usable quote), and a price of 0 is its source’s "no price", not a refusal', async () => {
    const { event } = await decided(open(), {
      hashes: {
        [keys.ticker('ONEKUSDT')]: { markPrice: '150', timestamp: String(NOW - 500) },
        [keys.marketState('ONEKUSDT')]: { mark_price: '0' },
      },
    });
    expect(event).toMatchObject({ event: 'permit', mark_price: '150', computed_notional: '150' });
    expect(event.refused_inputs).toBeUndefined();
  });

  it('a close of the symbol passes (close bypass): no price blocks a close', async () => {
    const { event } = await decided(open('ONEKUSDT', { action: 'FULL_CLOSE_PROPOSED', side: 'SELL' }), {
      hashes: {
        [keys.ticker('ONEKUSDT')]: { markPrice: '1500', timestamp: String(AHEAD) },
        [keys.marketState('ONEKUSDT')]: { mark_price: '1.5' },
      },
    });
    expect(event).toMatchObject({ event: 'permit', reason: 'close_bypass' });
  });
});

describe('governor: a held position whose quote is refused is of unknown size for the caps', () => {
  /** P3.3's newest layout (position_state_brain/main.py at de25f13cb), indexed: 1 MILLIUSDT at a mark of 1 (the truth: 1,000). */
  const held: FakeRedisData = {
    hashes: {
      [keys.p33StatePositions('MILLIUSDT')]: { position_amt: '1', mark_price: '1', ts_epoch: String((NOW - 1000) / 1000) },
      [keys.ticker('MILLIUSDT')]: { markPrice: '1000', timestamp: String(AHEAD) },
      [keys.ticker('NEWUSDT')]: { markPrice: '150', timestamp: String(NOW - 500) },
    },
    sets: { [keys.p33PositionIndex]: ['MILLIUSDT'] },
  };

  it('an open of another symbol is blocked position_price_unknown naming it (not permitted with the book at $1)', async () => {
    const { event } = await decided(open('NEWUSDT'), held);
    expect(event).toMatchObject({ event: 'block', reason: 'position_price_unknown', unpriced_positions: 'MILLIUSDT' });
  });

  it('an open of the symbol itself is blocked market_price_unknown naming the refusal', async () => {
    const { event } = await decided(open('MILLIUSDT'), held);
    expect(event).toMatchObject({ event: 'block', reason: 'market_price_unknown', refused_inputs: 'ticker:future' });
  });

  it('its close passes', async () => {
    const { event } = await decided(open('MILLIUSDT', { action: 'FULL_CLOSE_PROPOSED', side: 'SELL' }), held);
    expect(event).toMatchObject({ event: 'permit', reason: 'close_bypass' });
  });
});

describe('the gate and the quote refusals, pure', () => {
  const snapshot = (refusedInputs?: readonly string[]) => ({ refusedInputs }) as unknown as GovernorSnapshot;
  const facts = {} as PlanFacts;
  const limits = {} as Limits;

  it('openPriceUntrusted blocks market_price_unknown while the plan’s symbol has a refusal, else passes', () => {
    expect(openPriceUntrusted(facts, limits, snapshot(['ticker:future']))).toBe('market_price_unknown');
    expect(openPriceUntrusted(facts, limits, snapshot([]))).toBeUndefined();
    expect(openPriceUntrusted(facts, limits, snapshot())).toBeUndefined();
  });

  it('quoteRefusalsOf: a refused read, a price or time no number; never an absent price, a 0 price, or a P3.3 hash without ts_epoch', () => {
    const replies: unknown[] = [
      ['abc', null], // market state: price no number
      new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), // ticker
      ['100', 'later'], // P3.3: time no number
      ['n/a', null], // P3.3 without ts_epoch: not the Ledger's
    ];
    expect(quoteRefusalsOf(replies)).toEqual([
      { source: 'market_state', reason: 'unparsable' },
      { source: 'ticker', reason: 'unreadable' },
      { source: 'p33', reason: 'unparsable' },
    ]);
    expect(
      quoteRefusalsOf([
        [null, null],
        ['0', String(NOW)],
        ['-1', String(NOW / 1000)],
      ]),
    ).toEqual([]);
  });

  it('refusedQuotes adds the quotes stamped ahead beyond the skew, and none within it', () => {
    const quotes: PriceQuote[] = [
      { source: 'ticker', price: 1500, asOfMs: AHEAD },
      { source: 'p33', price: 1500, asOfMs: NOW + 2000 },
    ];
    expect(refusedQuotes([], quotes, NOW)).toEqual([{ source: 'ticker', reason: 'future' }]);
  });
});

describe('heat: what the trusted figures prove', () => {
  const positions = [
    { symbol: 'AUSDT', notionalUsd: 60_000, sigma: 0.15 },
    { symbol: 'BUSDT', notionalUsd: 10_000, sigma: undefined },
  ];
  const ahead = [{ symbol: 'LEDGERUSDT', field: STAMPED_AHEAD, value: 'quantum:state:positions:LEDGERUSDT' }];
  const inputs = (untrusted = ahead, notional = 60_000) => ({
    equityUsd: 10_000,
    equityRaw: '10000',
    positions: [{ ...positions[0]!, notionalUsd: notional }, positions[1]!],
    untrusted,
  });

  it('assessHeat names the cause and keeps the heat of the trusted figures as a lower bound', () => {
    const a = assessHeat(inputs());
    expect(a).toMatchObject({ trusted: false, cause: 'position_stamped_ahead', atLeast: { heat: 0.9 } });
    expect(assessHeat(inputs([{ symbol: 'AUSDT', field: 'sigma', value: 'abc' }]))).toMatchObject({
      cause: 'position_not_a_number',
      atLeast: { heat: 0.9 },
    });
  });

  it('provenHeat decides HOT when the lower bound reaches HEAT_MAX, marked as a lower bound', () => {
    const proven = provenHeat(assessHeat(inputs()), 0.25, 0.65);
    expect(proven).toMatchObject({ trusted: true, heat: 0.9, lowerBound: { cause: 'position_stamped_ahead' } });
  });

  it('provenHeat leaves anything short of HOT untrusted (the unknown could move it either way)', () => {
    for (const notional of [30_000, 1_000]) {
      const a = assessHeat(inputs(ahead, notional));
      expect(provenHeat(a, 0.25, 0.65)).toBe(a);
    }
  });

  it('no lower bound without a trusted equity or a whole book: those fail closed as before', () => {
    const noEquity = assessHeat({ ...inputs(), equityRaw: 'abc', equityUsd: undefined });
    expect(noEquity).toMatchObject({ trusted: false, cause: 'equity_not_a_number' });
    expect(provenHeat(noEquity, 0.25, 0.65)).toBe(noEquity);
    const partial = assessHeat({ ...inputs(), unreadableListings: [{ listing: 'view', key: keys.activePositions, error: 'WRONGTYPE' }] });
    expect(partial).toMatchObject({ trusted: false, cause: 'book_unreadable' });
    expect((partial as Extract<HeatAssessment, { trusted: false }>).atLeast).toBeUndefined();
  });

  it('a trusted heat is left as it is', () => {
    const a = assessHeat(inputs([]));
    expect(provenHeat(a, 0.25, 0.65)).toBe(a);
    expect(a).toMatchObject({ trusted: true, heat: 0.9 });
    expect((a as Extract<HeatAssessment, { trusted: true }>).lowerBound).toBeUndefined();
  });
});

describe('the book’s sigma: the largest of every producer’s (the caps’ rule)', () => {
  const config = {
    POSITION_SNAPSHOT_STREAM: streams.positionSnapshot,
    POSITION_SNAPSHOT_GROUP: 'position_snapshot',
    POSITION_BOOK_MAX_PENDING: 1000,
  };
  /** Our view's row of a seed-format snapshot (seed 000: symbol, position_notional_usd, sigma). */
  const row = (sigma: string) => ({
    symbol: 'AUSDT',
    position_notional_usd: '6000',
    sigma,
    updated_at: String(NOW - 1000),
    source_id: `${NOW - 1000}-0`,
  });
  const bookOf = async (data: FakeRedisData) => (await loadPositionBook(new FakeRedisReader(data), config, { now: NOW })).book;

  it("a snapshot's own sigma of 0.0015 does not outrank the market state publisher's and the market state's 0.15", async () => {
    const book = await bookOf({
      hashes: {
        [keys.position('AUSDT')]: row('0.0015'),
        [keys.marketStatePublished('AUSDT')]: { sigma: '0.15' },
        [keys.marketState('AUSDT')]: { sigma: '0.15' },
      },
      sets: { [keys.activePositions]: ['AUSDT'] },
    });
    expect(book.positions).toMatchObject([{ symbol: 'AUSDT', notionalUsd: 6000, sigma: 0.15 }]);
  });

  it('a larger own sigma still counts, and the market’s alone where the figure has none', async () => {
    const larger = await bookOf({
      hashes: { [keys.position('AUSDT')]: row('0.3'), [keys.marketStatePublished('AUSDT')]: { sigma: '0.15' } },
      sets: { [keys.activePositions]: ['AUSDT'] },
    });
    expect(larger.positions).toMatchObject([{ sigma: 0.3 }]);
    const none = await bookOf({
      hashes: {
        [keys.position('AUSDT')]: Object.fromEntries(Object.entries(row('')).filter(([field]) => field !== 'sigma')),
        [keys.marketState('AUSDT')]: { sigma: '0.2' },
      },
      sets: { [keys.activePositions]: ['AUSDT'] },
    });
    expect(none.positions).toMatchObject([{ sigma: 0.2 }]);
  });

  it("an unparsable market sigma beside a figure's own makes the heat untrusted (a refused figure), its lower bound the own sigma's", async () => {
    const book = await bookOf({
      hashes: { [keys.position('AUSDT')]: row('0.15'), [keys.marketStatePublished('AUSDT')]: { sigma: 'abc' } },
      sets: { [keys.activePositions]: ['AUSDT'] },
    });
    expect(book.untrusted).toEqual([{ symbol: 'AUSDT', field: 'marketstate_sigma', value: 'abc' }]);
    expect(assessHeat({ equityUsd: 1000, equityRaw: '1000', positions: book.positions, untrusted: book.untrusted })).toMatchObject({
      trusted: false,
      cause: 'position_not_a_number',
      atLeast: { heat: 0.9 },
    });
  });
});
