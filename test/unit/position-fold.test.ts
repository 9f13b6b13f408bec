import { describe, expect, it } from 'vitest';
import {
  foldBook,
  foldListingMark,
  heldKey,
  parseHeldKey,
  SNAPSHOT_LANE,
  type BookPosition,
  type FoldInput,
  type HeldLeg,
  type Leg,
  type ListingMark,
  type SlotWord,
} from '../../handlers/positions/fold.js';
import {
  decodeHeld,
  encodeHeld,
  heldMemoryOf,
  listingMarkOf,
  memoryWrites,
  P33_REFRESHED_FIELD,
  P33_UNREADABLE_FIELD,
  UNKNOWN_LANE,
} from '../../handlers/positions/memory.js';

// The fold without Redis: producers' words, the memory and the clock in, the book out.
const NOW = 1_800_000_000_000;
const MAX_AGE = 120_000;
const P33 = 'quantum:state:positions:';

const tracker = (symbol: string, leg: Leg, notional: number, atMs = NOW - 1000): SlotWord => ({
  symbol,
  lane: SNAPSHOT_LANE,
  slot: leg,
  word: {
    key: `view:${symbol}:${leg}`,
    figure: {
      symbol,
      leg,
      notionalUsd: leg === 'LONG' ? notional : -notional,
      sigma: 0.1,
      qty: undefined,
      markPrice: 1,
      asOfMs: atMs,
      origin: 'stream',
      ages: true,
    } satisfies BookPosition,
  },
});
const p33 = (symbol: string, amt: number, atMs = NOW - 1000): SlotWord => ({
  symbol,
  lane: P33,
  slot: '*',
  word: {
    key: P33 + symbol,
    figure: {
      symbol,
      ...(amt === 0 ? {} : { leg: amt > 0 ? ('LONG' as const) : ('SHORT' as const) }),
      notionalUsd: amt * 100,
      sigma: undefined,
      qty: amt,
      markPrice: 100,
      asOfMs: atMs,
      origin: 'p33',
    } satisfies BookPosition,
  },
});

function fold(words: SlotWord[], memory: Record<string, HeldLeg> = {}, evidence: Partial<FoldInput['evidence']> = {}) {
  return foldBook({
    words,
    memory: new Map(Object.entries(memory)),
    evidence: { trackerRoundMs: undefined, ...evidence },
    bounds: { maxAgeMs: MAX_AGE, maxSkewMs: 5000, now: NOW },
    marketSigma: () => 0.2,
    laneKey: (lane, symbol) => (lane === SNAPSHOT_LANE ? `view:${symbol}` : lane + symbol),
  });
}

describe('the fold: legs', () => {
  it('keeps LONG and SHORT of one symbol apart and adds them (gross), whichever came last', () => {
    const book = fold([tracker('BTCUSDT', 'LONG', 1000), tracker('BTCUSDT', 'SHORT', 1)]);
    expect(book.positions).toMatchObject([{ symbol: 'BTCUSDT', notionalUsd: 1001, leg: 'LONG' }]);
    expect(book.figures.get('BTCUSDT')).toHaveLength(2);
    expect([...book.memory.keys()].sort()).toEqual(['BTCUSDT:LONG', 'BTCUSDT:SHORT']);
  });

  it('a producer reporting one leg never erases another: P3.3 SHORT beside the tracker LONG', () => {
    const book = fold([tracker('ETHUSDT', 'LONG', 500), p33('ETHUSDT', -2)]);
    expect(book.positions[0]!.notionalUsd).toBe(700);
  });

  it('a leg counts at the largest of its fresh figures', () => {
    const book = fold([tracker('ETHUSDT', 'LONG', 500), p33('ETHUSDT', 1)]);
    expect(book.positions[0]!.notionalUsd).toBe(500);
    expect(book.memory.get(heldKey('ETHUSDT', 'LONG'))!.by).toEqual([SNAPSHOT_LANE, P33].sort());
  });
});

describe('the fold: absence is not flat', () => {
  const held = (by: string[], atMs = NOW - 60_000): HeldLeg => ({ by, atMs });

  it('a remembered P3.3 leg whose hash is gone is of unknown size, and stays remembered', () => {
    const book = fold([], { 'SOLUSDT:LONG': held([P33]) });
    expect(book.refused).toEqual([{ symbol: 'SOLUSDT', source: 'p33', reason: 'vanished', key: P33 + 'SOLUSDT', leg: 'LONG' }]);
    expect(book.memory.get('SOLUSDT:LONG')).toEqual({ ...held([P33]), silent: [P33] });
    expect(book.positions).toEqual([]);
  });

  it("P3.3's fresh flat hash is a report: the leg is forgotten", () => {
    const book = fold([p33('SOLUSDT', 0)], { 'SOLUSDT:LONG': held([P33]) });
    expect(book.refused).toEqual([]);
    expect(book.memory.size).toBe(0);
  });

  it('a flat stamped older than POSITION_MAX_AGE_SEC is no report', () => {
    const book = fold([p33('SOLUSDT', 0, NOW - MAX_AGE - 1)], { 'SOLUSDT:LONG': held([P33]) });
    expect(book.refused.map((r) => r.reason)).toEqual(['vanished']);
  });

  it('the tracker stopped (its account hash old too): its aged legs are unknown', () => {
    const book = fold(
      [tracker('XRPUSDT', 'LONG', 300, NOW - MAX_AGE - 5000)],
      { 'XRPUSDT:LONG': held([SNAPSHOT_LANE], NOW - MAX_AGE - 5000) },
      {
        trackerRoundMs: NOW - MAX_AGE - 5000,
      },
    );
    expect(book.refused).toMatchObject([{ symbol: 'XRPUSDT', source: 'snapshot', reason: 'vanished', leg: 'LONG' }]);
  });

  it('the tracker running (a round after the leg was last seen) and omitting it: closed', () => {
    const book = fold([], { 'XRPUSDT:LONG': held([SNAPSHOT_LANE], NOW - MAX_AGE - 5000) }, { trackerRoundMs: NOW - 10_000 });
    expect(book.refused).toEqual([]);
    expect(book.memory.size).toBe(0);
  });

  it('a fresh zero snapshot without a side (the seeds’ close) forgets both legs', () => {
    const zero: SlotWord = {
      symbol: 'ADAUSDT',
      lane: SNAPSHOT_LANE,
      slot: '*',
      word: {
        key: 's',
        figure: {
          symbol: 'ADAUSDT',
          notionalUsd: 0,
          sigma: undefined,
          qty: undefined,
          markPrice: undefined,
          asOfMs: NOW - 10,
          origin: 'stream',
        },
      },
    };
    const book = fold([zero], { 'ADAUSDT:LONG': held([SNAPSHOT_LANE]), 'ADAUSDT:SHORT': held([SNAPSHOT_LANE]) });
    expect(book.refused).toEqual([]);
    expect(book.memory.size).toBe(0);
  });

  it('the tracker stopped while P3.3 still reports a tenth: the leg is of unknown size (what remains is no size)', () => {
    const book = fold([p33('BNBUSDT', 1)], { 'BNBUSDT:LONG': held([P33, SNAPSHOT_LANE].sort()) });
    expect(book.refused).toMatchObject([{ symbol: 'BNBUSDT', reason: 'vanished', source: 'snapshot' }]);
  });

  it("a hedge account's tracker stopped while P3.3 reports its first row flat: the SHORT leg only the tracker reported is of unknown size", () => {
    // P3.3's hash is the first row positionRisk lists (the LONG leg here), so its FLAT is that leg's.
    const book = fold([p33('ETHUSDT', 0)], { 'ETHUSDT:LONG': held([P33, SNAPSHOT_LANE].sort()), 'ETHUSDT:SHORT': held([SNAPSHOT_LANE]) });
    expect(book.refused).toMatchObject([{ symbol: 'ETHUSDT', reason: 'vanished', source: 'snapshot', leg: 'SHORT' }]);
    expect([...book.memory.keys()]).toEqual(['ETHUSDT:SHORT']);
  });

  it('a flat that names no leg still clears a leg no one knows who reported (an unreadable memory value)', () => {
    const book = fold([p33('DOTUSDT', 0)], { 'DOTUSDT:SHORT': decodeHeld('garbage') });
    expect(book.refused).toEqual([]);
    expect(book.memory.size).toBe(0);
  });

  describe('a refused word on a leg nobody reported readably is remembered (unread): its vanishing is unknown, not flat', () => {
    const refused: SlotWord = {
      symbol: 'LTCUSDT',
      lane: P33,
      slot: '*',
      word: { refused: { symbol: 'LTCUSDT', source: 'p33', reason: 'unparsable', key: P33 + 'LTCUSDT' } },
    };
    const unread = (by: string[]): HeldLeg => ({ by, atMs: NOW, unread: true });

    it('remembered from the refusal, on every leg its word covers', () => {
      const book = fold([refused]);
      expect(book.memory.get('LTCUSDT:LONG')).toEqual(unread([P33]));
      expect(book.memory.get('LTCUSDT:SHORT')).toEqual(unread([P33]));
      expect(decodeHeld(encodeHeld(unread([P33])))).toEqual(unread([P33]));
    });

    it('the refused hash then deleted: of unknown size (it was flat before issue #70 item 5’s property found it)', () => {
      const book = fold([], { 'LTCUSDT:LONG': unread([P33]) });
      expect(book.refused).toMatchObject([{ symbol: 'LTCUSDT', source: 'p33', reason: 'vanished', leg: 'LONG' }]);
    });

    it('a readable word of the lane answers it: its figure counts, the legs it does not hold are forgotten', () => {
      const book = fold([p33('LTCUSDT', -1)], { 'LTCUSDT:LONG': unread([P33]), 'LTCUSDT:SHORT': unread([P33]) });
      expect(book.refused).toEqual([]);
      expect([...book.memory.keys()]).toEqual(['LTCUSDT:SHORT']);
      expect(book.memory.get('LTCUSDT:SHORT')!.unread).toBeUndefined();
    });

    it('a flat word beside the refusal clears nothing: what remains after a refusal is no report (found by the widened property, seed 1)', () => {
      const book = fold([refused, tracker('LTCUSDT', 'LONG', 0)]);
      expect(book.memory.get('LTCUSDT:LONG')).toEqual(unread([P33]));
      const later = fold([tracker('LTCUSDT', 'LONG', 0)], { 'LTCUSDT:LONG': held([P33]) });
      expect(later.memory.size).toBe(0);
    });

    it('a leg once reported readably stays a remembered leg: a refusal keeps it, as before', () => {
      const book = fold([refused], { 'LTCUSDT:LONG': held([P33]) });
      expect(book.memory.get('LTCUSDT:LONG')).toEqual(held([P33]));
    });
  });

  it('a memory value no one can read is held by nobody known: unknown until cleared', () => {
    expect(decodeHeld('garbage')).toEqual({ by: [UNKNOWN_LANE], atMs: 0 });
    const book = fold([], { 'DOTUSDT:SHORT': decodeHeld('{}') });
    expect(book.refused).toMatchObject([{ symbol: 'DOTUSDT', reason: 'vanished', leg: 'SHORT' }]);
  });
});

describe('the memory in Redis', () => {
  it('writes only what changed; a forgotten leg is written empty, and an empty field is no memory', () => {
    const before = new Map([['A:LONG', { by: ['snapshot'], atMs: 1 }]]);
    const after = new Map([['B:SHORT', { by: [P33], atMs: 2 }]]);
    expect(memoryWrites(before, after)).toEqual({ set: { 'B:SHORT': encodeHeld({ by: [P33], atMs: 2 }) }, remove: ['A:LONG'] });
    expect(memoryWrites(after, after)).toEqual({ set: {}, remove: [] });
    expect(heldMemoryOf(['A:LONG', '', 'B:SHORT', encodeHeld({ by: [P33], atMs: 2 }), 'junk', 'x'])).toEqual(after);
  });

  it('writes a leg exactly when its encoding changes, whatever of it changed', () => {
    const legs: HeldLeg[] = [
      { by: ['snapshot'], atMs: 1 },
      { by: ['snapshot'], atMs: 2 },
      { by: ['snapshot', P33], atMs: 1 },
      { by: [P33, 'snapshot'], atMs: 1 },
      { by: ['snapshot'], atMs: 1, silent: [] },
      { by: ['snapshot'], atMs: 1, silent: ['snapshot'] },
      { by: ['snapshot'], atMs: 1, silent: [P33] },
      { by: ['snapshot'], atMs: 1, unread: true },
      { by: [], atMs: 1 },
    ];
    for (const was of legs)
      for (const is of legs) {
        const written = memoryWrites(new Map([['A:LONG', was]]), new Map([['A:LONG', structuredClone(is)]])).set;
        expect(written, `${encodeHeld(was)} → ${encodeHeld(is)}`).toEqual(
          encodeHeld(was) === encodeHeld(is) ? {} : { 'A:LONG': encodeHeld(is) },
        );
      }
  });
});

describe('a listing once unreadable stays of unknown completeness until listed whole again (issue #70, knownGap)', () => {
  const all = { from: 'all', refused: false } as const;
  const refused = { from: 'all', refused: true } as const;
  const watched = { from: 'watched', refused: false } as const;

  it('P3.3’s index refused while listed through it: marked at the read’s clock, its refusal named as ever (no second listing)', () => {
    expect(foldListingMark({}, refused, NOW)).toEqual({ mark: { unreadableAtMs: NOW }, incompleteSinceMs: undefined });
  });

  it('read again (deleted, or a set again) with no refresh since: still incomplete, since the sighting; nothing to write', () => {
    const mark = { unreadableAtMs: NOW - 5000 };
    expect(foldListingMark(mark, all, NOW)).toEqual({ mark, incompleteSinceMs: NOW - 5000 });
  });

  it('a refresh of the index job begun before the sighting clears nothing; one begun after it clears the mark', () => {
    expect(foldListingMark({ unreadableAtMs: NOW - 5000, refreshedAtMs: NOW - 6000 }, all, NOW).incompleteSinceMs).toBe(NOW - 5000);
    // Begun in the same millisecond: no proof it came after.
    expect(foldListingMark({ unreadableAtMs: NOW - 5000, refreshedAtMs: NOW - 5000 }, all, NOW).incompleteSinceMs).toBe(NOW - 5000);
    expect(foldListingMark({ unreadableAtMs: NOW - 5000, refreshedAtMs: NOW - 4000 }, all, NOW)).toEqual({
      mark: {},
      incompleteSinceMs: undefined,
    });
  });

  it('refused again after a refresh: marked anew, later than the refresh, so it stands', () => {
    const after = foldListingMark({ unreadableAtMs: NOW - 5000, refreshedAtMs: NOW - 4000 }, refused, NOW);
    expect(after.mark).toEqual({ unreadableAtMs: NOW, refreshedAtMs: NOW - 4000 });
    expect(foldListingMark(after.mark, all, NOW + 1).incompleteSinceMs).toBe(NOW);
  });

  it('a sighting is never moved back (a replica whose clock read earlier)', () => {
    expect(foldListingMark({ unreadableAtMs: NOW }, refused, NOW - 10).mark).toEqual({ unreadableAtMs: NOW });
  });

  it('listed by the live key watch (every P3.3 hash, not the index): listed whole, the mark goes, refused index or not', () => {
    for (const read of [watched, { from: 'watched', refused: true } as const])
      expect(foldListingMark({ unreadableAtMs: NOW - 5000 }, read, NOW)).toEqual({ mark: {}, incompleteSinceMs: undefined });
  });

  it('foldBook carries it beside the legs, pure: the legs fold as without it', () => {
    const memory = { 'SOLUSDT:LONG': { by: [P33], atMs: NOW - 60_000 } };
    const book = foldBook({
      words: [p33('SOLUSDT', 1)],
      memory: new Map(Object.entries(memory)),
      listingMark: { unreadableAtMs: NOW - 5000 },
      p33Listing: all,
      evidence: { trackerRoundMs: undefined },
      bounds: { maxAgeMs: MAX_AGE, maxSkewMs: 5000, now: NOW },
      marketSigma: () => 0.2,
      laneKey: (lane, symbol) => lane + symbol,
    });
    expect(book.p33IncompleteSinceMs).toBe(NOW - 5000);
    expect(book.listingMark).toEqual({ unreadableAtMs: NOW - 5000 });
    expect(book.memory).toEqual(fold([p33('SOLUSDT', 1)], memory).memory);
  });
});

describe('the mark in the memory', () => {
  it('its fields are no leg: every reader of legs passes them by (1.6.0 and 1.7.0 read legs by parseHeldKey too)', () => {
    for (const field of [P33_UNREADABLE_FIELD, P33_REFRESHED_FIELD]) expect(parseHeldKey(field)).toBeUndefined();
    const leg = encodeHeld({ by: [P33], atMs: 2 });
    expect(heldMemoryOf(['A:LONG', leg, P33_UNREADABLE_FIELD, String(NOW), P33_REFRESHED_FIELD, String(NOW + 1)])).toEqual(
      new Map([['A:LONG', decodeHeld(leg)]]),
    );
  });

  it('reads from the memory as HGETALL gives it; an empty field is none, a sighting no one can read marks at 0', () => {
    expect(listingMarkOf(['A:LONG', '{}', P33_UNREADABLE_FIELD, String(NOW - 5), P33_REFRESHED_FIELD, String(NOW)])).toEqual({
      unreadableAtMs: NOW - 5,
      refreshedAtMs: NOW,
    });
    expect(listingMarkOf([P33_UNREADABLE_FIELD, '', P33_REFRESHED_FIELD, ''])).toEqual({});
    expect(listingMarkOf([P33_UNREADABLE_FIELD, 'garbage', P33_REFRESHED_FIELD, 'junk'])).toEqual({ unreadableAtMs: 0 });
    // Marked at 0: any refresh after it clears it.
    expect(foldListingMark({ unreadableAtMs: 0 }, { from: 'all', refused: false }, NOW).incompleteSinceMs).toBe(0);
    expect(foldListingMark({ unreadableAtMs: 0, refreshedAtMs: 1 }, { from: 'all', refused: false }, NOW).mark).toEqual({});
  });

  it('a decision writes the sighting when it changes, and forgets both fields with the mark; never writes the job’s stamp', () => {
    const legs = new Map<string, HeldLeg>();
    const write = (before: ListingMark, after: ListingMark) => memoryWrites(legs, legs, { before, after });
    expect(write({}, { unreadableAtMs: NOW })).toEqual({ set: { [P33_UNREADABLE_FIELD]: String(NOW) }, remove: [] });
    expect(write({ unreadableAtMs: NOW }, { unreadableAtMs: NOW })).toEqual({ set: {}, remove: [] });
    expect(write({ unreadableAtMs: NOW, refreshedAtMs: NOW + 1 }, { unreadableAtMs: NOW, refreshedAtMs: NOW + 1 })).toEqual({
      set: {},
      remove: [],
    });
    expect(write({ unreadableAtMs: NOW, refreshedAtMs: NOW + 1 }, {})).toEqual({
      set: {},
      remove: [P33_UNREADABLE_FIELD, P33_REFRESHED_FIELD],
    });
    // A stamp left without a mark (a refresh that read the mark a decision then cleared) is forgotten too.
    expect(write({ refreshedAtMs: NOW }, {})).toEqual({ set: {}, remove: [P33_REFRESHED_FIELD] });
  });
});
