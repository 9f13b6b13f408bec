import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  foldBook,
  KeptFolds,
  SNAPSHOT_LANE,
  type BookPosition,
  type FoldInput,
  type HeldLeg,
  type LaneWord,
  type SlotWord,
} from '../../handlers/positions/fold.js';

// A symbol's fold kept across reads (KeptFolds) must be the fold the read would make: the same
// words, memory and clock comparisons in, the same part of the book out; anything else folds anew.
const NOW = 1_800_000_000_000;
const MAX_AGE = 120_000;
const MAX_SKEW = 5_000;
const P33 = 'quantum:state:positions:';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'] as const;

const figureWord = (
  symbol: string,
  lane: string,
  notionalUsd: number,
  asOfMs: number,
  ages: boolean,
  leg?: 'LONG' | 'SHORT',
): LaneWord => ({
  key: `${lane}${symbol}@${asOfMs}`,
  figure: {
    symbol,
    ...(leg === undefined ? {} : { leg }),
    notionalUsd,
    sigma: notionalUsd === 0 ? undefined : 0.1,
    qty: notionalUsd === 0 ? 0 : undefined,
    markPrice: 1,
    asOfMs,
    origin: lane === SNAPSHOT_LANE ? 'stream' : 'p33',
    ...(ages ? { ages: true } : {}),
  } satisfies BookPosition,
});

/** Stamps on either side of every bound a read's clock below can cross: the age bound and the skew. */
const STAMPS = [
  NOW - MAX_AGE - 1,
  NOW - MAX_AGE,
  NOW - MAX_AGE + 1,
  NOW - 1000,
  NOW + MAX_SKEW - 1,
  NOW + MAX_SKEW + 1,
  NOW + MAX_SKEW + 2000,
];
/** The clocks reads are made at: the stamps' bounds fall between them. */
const CLOCKS = [NOW - 2, NOW - 1, NOW, NOW + 1, NOW + 2, NOW + 3000];

/** Each symbol's pool of words: the same objects at every read, as book.ts's kept decodings give them. */
const WORDS: readonly SlotWord[] = SYMBOLS.flatMap((symbol) => [
  ...STAMPS.flatMap((at, i): SlotWord[] => [
    { symbol, lane: SNAPSHOT_LANE, slot: 'LONG', word: figureWord(symbol, SNAPSHOT_LANE, 100 + i, at, true, 'LONG') },
    { symbol, lane: SNAPSHOT_LANE, slot: 'SHORT', word: figureWord(symbol, SNAPSHOT_LANE, -(50 + i), at, true, 'SHORT') },
    { symbol, lane: P33, slot: '*', word: figureWord(symbol, P33, i % 3 === 0 ? 0 : 200 + i, at, false) },
  ]),
  { symbol, lane: P33, slot: '*', word: { refused: { symbol, source: 'p33', reason: 'unparsable', key: P33 + symbol } } },
]);
const LEGS_HELD: readonly HeldLeg[] = [
  { by: [P33], atMs: NOW - 60_000 },
  { by: [SNAPSHOT_LANE], atMs: NOW - 200_000 },
  { by: [P33, SNAPSHOT_LANE], atMs: NOW - 1000, silent: [P33] },
  { by: [P33], atMs: NOW - 5000, unread: true },
];

interface Read {
  readonly words: readonly SlotWord[];
  readonly memory: readonly (readonly [string, HeldLeg])[];
  readonly now: number;
  readonly trackerRoundMs: number | undefined;
}

const aRead: fc.Arbitrary<Read> = fc.record({
  words: fc.subarray([...WORDS], { maxLength: 12 }),
  memory: fc.uniqueArray(fc.tuple(fc.constantFrom(...SYMBOLS.flatMap((s) => [`${s}:LONG`, `${s}:SHORT`])), fc.constantFrom(...LEGS_HELD)), {
    selector: ([key]) => key,
    maxLength: 4,
  }),
  now: fc.constantFrom(...CLOCKS),
  trackerRoundMs: fc.constantFrom(undefined, NOW - 10_000, NOW - 500_000),
});

const inputOf = (read: Read): FoldInput => ({
  words: read.words,
  memory: new Map(read.memory),
  evidence: { trackerRoundMs: read.trackerRoundMs },
  bounds: { maxAgeMs: MAX_AGE, maxSkewMs: MAX_SKEW, now: read.now },
  marketSigma: () => 0.2,
  laneKey: (lane, symbol) => (lane === SNAPSHOT_LANE ? `view:${symbol}` : lane + symbol),
});

describe('KeptFolds', () => {
  it('every read of a sequence folds as it would with nothing kept (words, memory, clocks across every bound)', () => {
    // Each book read at several clocks in turn, so kept folds are found as often as not.
    const aSequence = fc.array(fc.tuple(aRead, fc.array(fc.constantFrom(...CLOCKS), { minLength: 1, maxLength: 4 })), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(aSequence, (books) => {
        const kept = new KeptFolds();
        for (const [read, clocks] of books)
          for (const now of clocks) expect(foldBook(inputOf({ ...read, now }), kept)).toEqual(foldBook(inputOf({ ...read, now })));
      }),
      { numRuns: 500 },
    );
  });

  it("a read alike the last takes the kept fold: a symbol's figures are the very same array", () => {
    const kept = new KeptFolds();
    const read: Read = { words: WORDS.filter((w) => w.symbol === 'BTCUSDT').slice(9, 12), memory: [], now: NOW, trackerRoundMs: undefined };
    const first = foldBook(inputOf(read), kept);
    const second = foldBook(inputOf({ ...read, now: NOW + 1 }), kept);
    expect(first.figures.get('BTCUSDT')).toBeDefined();
    expect(second.figures.get('BTCUSDT')).toBe(first.figures.get('BTCUSDT'));
  });

  it('a clock across a figure’s age bound folds anew: the aged figure is gone', () => {
    const kept = new KeptFolds();
    // The tracker's LONG stamped NOW − MAX_AGE: fresh at NOW, aged out a millisecond later.
    const word = WORDS.find(
      (w) => w.symbol === 'ETHUSDT' && w.slot === 'LONG' && 'figure' in w.word && w.word.figure.asOfMs === NOW - MAX_AGE,
    )!;
    const at = (now: number) => foldBook(inputOf({ words: [word], memory: [], now, trackerRoundMs: undefined }), kept);
    expect(at(NOW).positions).toHaveLength(1);
    expect(at(NOW + 1).positions).toEqual([]);
    expect(at(NOW).positions).toHaveLength(1);
  });

  it('a fold that takes the clock itself (a figure stamped ahead: how far) is kept for no other clock', () => {
    const kept = new KeptFolds();
    const word = WORDS.find(
      (w) => w.symbol === 'SOLUSDT' && w.slot === 'LONG' && 'figure' in w.word && w.word.figure.asOfMs === NOW + MAX_SKEW + 2000,
    )!;
    const at = (now: number) => foldBook(inputOf({ words: [word], memory: [], now, trackerRoundMs: undefined }), kept).refused;
    expect(at(NOW)).toMatchObject([{ reason: 'future', aheadMs: MAX_SKEW + 2000 }]);
    expect(at(NOW + 1)).toMatchObject([{ reason: 'future', aheadMs: MAX_SKEW + 1999 }]);
  });
});
