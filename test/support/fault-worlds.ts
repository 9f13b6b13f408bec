import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { createGovernor } from '../../handlers/governor/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import type { TransactionCommitter } from '../../runtime/engine/commit.js';
import { keys, streams } from '../../schemas/keys.js';
import {
  balanceTrackerAccount,
  balanceTrackerSnapshot,
  marketStatePublished,
  p33NewestHash,
  p33SeedHash,
  pyFloat,
  tickerHash,
} from './book-producers.js';
import { decideOnce, refreshPositionIndex } from './decide-once.js';
import { readStream } from './runtime.js';
import { FAMILIES, familyName, type Family, type InputId } from './single-faults.js';

/**
 * Small worlds of positions from every producer and layout, marks from every source, equity, a
 * reservation, the caps, and opens, closes and heat-gate proposals; each seeded true or with one
 * fault of test/support/single-faults.ts, and a message decided in it through the gates' real path.
 * The one-fault property (test/integration/single-fault-property.test.ts) and the lost-connection
 * one (test/integration/connection-cut-property.test.ts) draw their cases here.
 */

const AHEAD_MS = 600_000;
const STALE_MS = 600_000;
export const NEW_SYMBOL = 'NEWUSDT';
const NEW_MARK = 100;
const RESERVED_SYMBOL = 'RESVUSDT';

const POSITION_PRODUCERS = ['tracker_entry', 'view_row', 'p33_seed_hash', 'p33_newest_hash'] as const;
type PositionProducer = (typeof POSITION_PRODUCERS)[number];

interface Held {
  readonly symbol: string;
  readonly qty: number;
  readonly mark: number;
  readonly sigma: number;
  /** Which producers and layouts report it. */
  readonly producers: readonly PositionProducer[];
  /**
   * Hedge mode (Binance dual-side): a SHORT leg of this quantity beside the LONG one. The balance
   * tracker publishes an entry per leg (balance_tracker.py @73fab1f55 `_publish_positions`, lines
   * 182-231: side from the sign, line 231); P3.3 writes one hash per symbol, one leg (the first
   * row positionRisk gives for it, position_state_brain/main.py @73fab1f55 lines 162-176: here the
   * SHORT); our view writes a row per leg and the symbol's row of the newest entry (the SHORT's).
   */
  readonly shortQty?: number;
}

export type Message =
  | { readonly kind: 'open'; readonly on: 'new' | number; readonly notional: number }
  | { readonly kind: 'close'; readonly on: number }
  | { readonly kind: 'proposal'; readonly on: 'new' | number };

export interface World {
  readonly held: readonly Held[];
  /** Symbols P3.3 reports flat (its universe: a hash under both layouts with position_amt 0), beside the held ones. */
  readonly flat: number;
  /** A permitted open not yet in the book (its symbol is no position). */
  readonly reservation: boolean;
  /** Position slots free beyond the book and the reservation. */
  readonly slotsFree: 0 | 1;
  /** The total cap above the true exposure, in opens' notional: 0 is at the cap. */
  readonly totalRoom: 0 | 0.5 | 2 | 100;
  /** The true heat the equity is chosen for. */
  readonly heat: 0.1 | 0.5 | 0.9;
  readonly messages: readonly Message[];
}

/** The one fault: a family, on which symbol (an index into held, or the new symbol), how much smaller. */
export interface Fault {
  readonly family: string;
  readonly on: number | 'new';
  /** For `smaller`: to what share of the true figure (0: flat). */
  readonly share: 0 | 0.1 | 0.00001;
}

const familyByName = new Map(FAMILIES.map((f) => [familyName(f), f]));

// ---- arbitraries: small worlds, names not arrays, so a shrunk case reads as a story ----

const held = (i: number): fc.Arbitrary<Held> =>
  fc.record({
    symbol: fc.constant(`H${i}USDT`),
    qty: fc.constantFrom(0.5, 1, 2),
    mark: fc.constantFrom(100, 2500),
    sigma: fc.constantFrom(0.02, 0.1),
    producers: fc.subarray([...POSITION_PRODUCERS], { minLength: 1 }),
  });

const messageKinds: Record<Message['kind'], fc.Arbitrary<Message>> = {
  open: fc.record({
    kind: fc.constant('open' as const),
    on: fc.oneof(fc.constant('new' as const), fc.nat(3)),
    notional: fc.constantFrom(50, 150),
  }),
  close: fc.record({ kind: fc.constant('close' as const), on: fc.nat(3) }),
  proposal: fc.record({ kind: fc.constant('proposal' as const), on: fc.oneof(fc.constant('new' as const), fc.nat(3)) }),
};
/** Worlds whose messages are of `kinds` (open, close, proposal). */
export function worldsOf(kinds: readonly string[]): fc.Arbitrary<World> {
  const message: fc.Arbitrary<Message> = fc.oneof(
    ...Object.entries(messageKinds)
      .filter(([kind]) => kinds.includes(kind))
      .map(([, a]) => a),
  );
  return fc.integer({ min: 1, max: 3 }).chain((n) =>
    fc.record({
      held: fc.tuple(...Array.from({ length: n }, (_, i) => held(i))),
      flat: fc.nat(3),
      reservation: fc.boolean(),
      slotsFree: fc.constantFrom(0 as const, 1 as const),
      totalRoom: fc.constantFrom(0 as const, 0.5 as const, 2 as const, 100 as const),
      heat: fc.constantFrom(0.1 as const, 0.5 as const, 0.9 as const),
      messages: fc.array(message, { minLength: 1, maxLength: 2 }),
    }),
  );
}

/**
 * Widened worlds (issue #70 item 5): any held symbol may be hedged, a SHORT leg beside its LONG, the
 * SHORT 1/1000 of it (dust beside a real leg) or as large. Its producers as worldsOf draws them,
 * and the balance tracker among them: in hedge mode only the tracker (and our view of it) reports
 * both legs (balance_tracker.py `_publish_positions`, book-producers.ts); P3.3 writes one hash per
 * symbol, one leg (position_state_brain/main.py `get_position`, its first entry of the symbol). A
 * hedged symbol P3.3 alone reports has a leg no producer reports: nothing can count it.
 */
export function hedgedWorldsOf(kinds: readonly string[]): fc.Arbitrary<World> {
  const bothLegs = (h: Held): Held =>
    h.producers.some((p) => laneOf(p) === 'snapshot') ? h : { ...h, producers: [...h.producers, 'tracker_entry'] };
  return worldsOf(kinds).chain((w) =>
    fc.tuple(...w.held.map(() => fc.constantFrom(undefined, undefined, 0.001, 1))).map((shares) => ({
      ...w,
      held: w.held.map((h, i) => (shares[i] === undefined ? h : { ...bothLegs(h), shortQty: h.qty * shares[i]! })),
    })),
  );
}

/**
 * Inputs that report one figure of a symbol: two faults among one of these meet in one number. A
 * position's notional is its producer's quantity at its producer's own mark, so P3.3's mark is of
 * the positions' figure as well as of the marks'.
 */
const ONE_FIGURE: readonly (readonly InputId[])[] = [
  ['tracker_entry', 'view_row', 'p33_seed_hash', 'p33_newest_hash', 'p33_index', 'view_index', 'snapshot_stream', 'p33_mark'],
  ['market_state_mark', 'ticker_mark', 'p33_mark'],
  ['published_sigma', 'market_state_sigma', 'snapshot_sigma'],
];

/** Ways a gate sees: a figure refused (stamped ahead, unparsable, unreadable). */
const SEEN_WAYS: readonly string[] = ['future', 'unparsable', 'wrong_type'];

/** Whether the gate can see the fault (a refusal) or it only adds (a larger figure). */
const seenOrLarger = (f: Family) => SEEN_WAYS.includes(f.way) || f.way === 'larger';

/** Two unseen wrongs of one figure of one symbol: a sole producer's wrong value, which no rule bounds. */
const oneUnseenFigure = (a: Applied, b: Applied) =>
  a.symbol === b.symbol &&
  !seenOrLarger(a.family) &&
  !seenOrLarger(b.family) &&
  ONE_FIGURE.some((inputs) => inputs.includes(a.family.input) && inputs.includes(b.family.input));

/**
 * Two faults at once: half the time both on one figure of one symbol (two of its producers, the
 * pairs a cross-check can miss), else any two, on one symbol or across symbols. fittedAll drops a
 * second unseen wrong of a figure already wrong unseen (missing, stale or smaller beside smaller):
 * that leaves a sole producer's wrong value, which no rule bounds (docs/governor.md "Faults that
 * compose").
 */
export function faultPairsOf(only: readonly string[] = []): fc.Arbitrary<readonly Fault[]> {
  const familyOf = (f: Fault) => familyByName.get(f.family)!;
  const among = (f: Family) => only.length === 0 || only.includes(familyName(f)) || only.includes(f.input);
  return fc.tuple(faultsOf(only), fc.boolean()).chain(([first, oneFigure]) => {
    const figure = ONE_FIGURE.find((inputs) => inputs.includes(familyOf(first).input));
    const seconds = FAMILIES.filter(
      (f) => among(f) && figure?.includes(f.input) === true && (seenOrLarger(familyOf(first)) || seenOrLarger(f)),
    );
    if (oneFigure && seconds.length > 0) return faultsOf(seconds.map(familyName)).map((second) => [first, { ...second, on: first.on }]);
    return fc.tuple(faultsOf(only), fc.boolean()).map(([second, oneSymbol]) => [first, oneSymbol ? { ...second, on: first.on } : second]);
  });
}

/** The world every fault of `faults` can be a fault of (fitted, one after another), and each as applied. */
export function fittedAll(w: World, faults: readonly Fault[]): { world: World; applied: Applied[] } {
  let world = w;
  const applied: Applied[] = [];
  for (const f of faults) {
    const fit = fitted(world, f);
    world = fit.world;
    const next: Applied = { family: fit.family, symbol: fit.symbol, share: f.share };
    // One fault an input and symbol: a second on the same one is not a second fault; nor is a
    // second unseen wrong of one figure (faultPairsOf).
    if (applied.some((a) => (a.family.input === next.family.input && a.symbol === next.symbol) || oneUnseenFigure(a, next))) continue;
    applied.push(next);
  }
  return { world, applied };
}

/** One fault of the families named in `only` (names, `p33_newest_hash×future`, or inputs, `p33_newest_hash`; empty: any). */
export function faultsOf(only: readonly string[]): fc.Arbitrary<Fault> {
  return fc.record({
    family: fc.constantFrom(
      ...FAMILIES.filter((f) => only.length === 0 || only.includes(familyName(f)) || only.includes(f.input)).map(familyName),
    ),
    on: fc.oneof(fc.nat(3), fc.constant('new' as const)),
    share: fc.constantFrom(0 as const, 0.1 as const, 0.00001 as const),
  });
}

/**
 * A leg of a held symbol that, with `applied`, no producer reports at its true size or above and
 * none refuses: every figure of it absent or smaller (a leg's producers as seed() writes them: the
 * balance tracker's entries and our view's rows carry both legs, one lane, the stream's newest
 * entry replacing the view's row; P3.3's hash carries one leg, the SHORT of a hedged symbol).
 * Undefined when every leg is seen. No rule bounds such a leg: its figure is a sole producer's
 * wrong value (docs/governor.md "Faults that compose").
 */
export function hiddenLeg(w: World, applied: readonly Applied[]): { symbol: string; leg: 'LONG' | 'SHORT' } | undefined {
  const way = (input: InputId, symbol: string) =>
    applied.find((a) => a.family.input === input && (a.symbol === undefined || a.symbol === symbol))?.family.way;
  const UNSEEN = ['missing', 'stale', 'smaller'];
  for (const h of w.held) {
    // The snapshot lane's word: the tracker's entry where it stands, else our view's row.
    const tracker = h.producers.includes('tracker_entry') ? way('tracker_entry', h.symbol) : 'missing';
    const view = h.producers.includes('view_row')
      ? way('view_index', h.symbol) === 'missing'
        ? 'missing'
        : way('view_row', h.symbol)
      : 'missing';
    const trackerStands = tracker !== 'missing' && tracker !== 'wrong_type';
    // A stale entry replaces the view's row and is aged out: the lane says nothing.
    const snapshotSeen = trackerStands ? !UNSEEN.includes(tracker ?? '') : view !== 'missing' && !['stale', 'smaller'].includes(view ?? '');
    const p33Seen = (layout: PositionProducer) =>
      h.producers.includes(layout) &&
      way('p33_index', h.symbol) !== 'missing' &&
      !UNSEEN.includes(way(layout, h.symbol) ?? '') &&
      way('p33_mark', h.symbol) !== 'smaller';
    const p33 = P33_LAYOUTS.some(p33Seen);
    const legs: ['LONG' | 'SHORT', boolean][] = [['LONG', snapshotSeen || (h.shortQty === undefined && p33)]];
    if (h.shortQty !== undefined) legs.push(['SHORT', snapshotSeen || p33]);
    const hidden = legs.find(([, seen]) => !seen);
    if (hidden !== undefined) return { symbol: h.symbol, leg: hidden[0] };
  }
  return undefined;
}

// ---- fitting a fault to a world ----

const crossCheckedWays = new Set(['missing', 'smaller', 'stale']);
const isPositionInput = (input: InputId): input is PositionProducer => (POSITION_PRODUCERS as readonly string[]).includes(input);
const P33_LAYOUTS: readonly PositionProducer[] = ['p33_seed_hash', 'p33_newest_hash'];
const laneOf = (p: PositionProducer): string => (p === 'tracker_entry' || p === 'view_row' ? 'snapshot' : p);

/**
 * The world the fault can be a fault of: a position fault's symbol reported by the faulted
 * producer, and, for the ways only a second producer can catch (missing, smaller, stale), by
 * another one too; a listing that goes missing lists no symbol only it knows. Pure.
 */
export function fitted(w: World, f: Fault): { world: World; family: Family; symbol: string | undefined } {
  const family = familyByName.get(f.family)!;
  const needsAnother = crossCheckedWays.has(family.way);
  const at = (on: number | 'new') => (on === 'new' ? -1 : on % w.held.length);
  let heldList = [...w.held];
  const withProducer = (i: number, p: PositionProducer) =>
    (heldList[i] = heldList[i]!.producers.includes(p) ? heldList[i]! : { ...heldList[i]!, producers: [...heldList[i]!.producers, p] });
  // Our view and the entries it has not applied are one lane (the snapshot stream's newest word);
  // each P3.3 layout is a lane of its own (docs/governor.md "Figures"). A second figure of the
  // same lane checks nothing.
  const other = (p: PositionProducer): PositionProducer => (laneOf(p) === 'snapshot' ? 'p33_newest_hash' : 'tracker_entry');
  const otherLane = (i: number, p: PositionProducer) => heldList[i]!.producers.some((q) => laneOf(q) !== laneOf(p));
  let symbol: string | undefined;
  if (isPositionInput(family.input) || family.input === 'p33_mark') {
    const i = at(f.on) < 0 ? 0 : at(f.on);
    const producer =
      family.input === 'p33_mark' ? (heldList[i]!.producers.find((p) => P33_LAYOUTS.includes(p)) ?? 'p33_newest_hash') : family.input;
    withProducer(i, producer);
    if (needsAnother && !otherLane(i, producer)) withProducer(i, other(producer));
    symbol = heldList[i]!.symbol;
  } else if (family.input === 'snapshot_sigma') {
    // A seed-format snapshot's own sigma: our view's row of the symbol carries it.
    const i = at(f.on) < 0 ? 0 : at(f.on);
    withProducer(i, 'view_row');
    symbol = heldList[i]!.symbol;
  } else if (['market_state_mark', 'ticker_mark', 'published_sigma', 'market_state_sigma', 'budget'].includes(family.input)) {
    symbol = at(f.on) < 0 ? NEW_SYMBOL : heldList[at(f.on)]!.symbol;
  } else if (family.input === 'p33_index' && family.way === 'missing') {
    heldList = heldList.map((h) =>
      h.producers.some((p) => P33_LAYOUTS.includes(p)) ? { ...h, producers: [...new Set([...h.producers, 'tracker_entry' as const])] } : h,
    );
  } else if (family.input === 'view_index' && family.way === 'missing') {
    heldList = heldList.map((h) =>
      h.producers.includes('view_row') ? { ...h, producers: [...new Set([...h.producers, 'p33_newest_hash' as const])] } : h,
    );
  }
  return { world: { ...w, held: heldList }, family, symbol };
}

// ---- seeding a world (true, or with the one fault) ----

/** The fault where it applies: to this input (and symbol, when it is a symbol's). */
/**
 * The clocks of a decision besides Redis's (which is `now`: the world's entries and figures are
 * stamped on it): the deciding clock a host reads (redis-clock.ts over a host clock set apart),
 * and how far ahead of Redis's the plan's producer stamped it.
 */
export interface Clocks {
  readonly deciding?: { readonly now: () => number; readonly syncClock?: () => Promise<number> };
  readonly planStampAheadSec?: number;
  /** When the message arrives beside the producers' writes and the jobs (default: after a refresh, every listed key read). */
  readonly timing?: Timing;
  /** Settings over capsOf's (a per-trade cap, say). */
  readonly settings?: Readonly<Record<string, string>>;
  /** A held position's every figure gone after a governor decision counted it (issue #70 item 2). */
  readonly vanishing?: Vanishing;
}

/**
 * How the figures of a held position go while it is still held, after a governor decision counted
 * it (only such a decision can know it is missing): every one of them `deleted`, or `expired`
 * (their producers stopped writing: hashes gone by their TTL, the tracker's entries aged out);
 * `stopped`, the balance tracker stopped (every symbol's snapshot-lane figures aged past
 * POSITION_MAX_AGE_SEC, its account hash as old, everything else written afresh); `stale`, each of
 * its producers' last word old (P3.3's hash left flat, stamped STALE_MS ago; the tracker's entries
 * and our view's rows aged out); `flat_mistake`, its P3.3 hash rewritten `position_amt` 0 beside its
 * side (a partial or hand write; the other producers as true); `index_lost`, P3.3's index gone and
 * no index job running (P3.3 still writes the hash).
 */
export interface Vanishing {
  /** Which held position (an index into held); `stopped` stops the tracker for every symbol. */
  readonly on: number;
  readonly how: (typeof VANISHING_WAYS)[number];
}
export const VANISHING_WAYS = ['deleted', 'expired', 'stopped', 'stale', 'flat_mistake', 'index_lost'] as const;

/** The world a vanishing can happen in: `flat_mistake` needs a P3.3 hash of the symbol. Pure. */
export function fittedVanishing(w: World, v: Vanishing): World {
  if (v.how !== 'flat_mistake') return w;
  const i = v.on % w.held.length;
  const h = w.held[i]!;
  if (h.producers.some((p) => P33_LAYOUTS.includes(p))) return w;
  return { ...w, held: w.held.map((x, k) => (k === i ? { ...h, producers: [...h.producers, 'p33_newest_hash' as const] } : x)) };
}

/** POSITION_MAX_AGE_SEC's default: a stopped producer's figures are this old, and then some, at the decision. */
const POSITION_MAX_AGE_MS = 120_000;

/** A plan nothing prices (no quote of its symbol): blocked, so it counts the book and leaves no reservation or cooldown. */
const PROBE_SYMBOL = 'PROBEUSDT';

/**
 * The time between a producer's write and the decision that must see it. `indexJob`: the position
 * index's refresh (handlers/positions/index-job.ts) ran after every write of the world, never ran,
 * or last ran before any of them and is late with the next. `watch`: the gate reads through the
 * P3.3 key watch, live before the producers wrote, so the message arrives right after their writes
 * (the watch's barrier is all that stands between); absent, it reads every listed key.
 */
export interface Timing {
  readonly indexJob: 'after' | 'never' | 'late';
  readonly watch?: () => Promise<{ readonly reader: RedisReader; stop(): Promise<void> }>;
}

export interface Applied {
  readonly family: Family;
  readonly symbol: string | undefined;
  readonly share: number;
}

/** The faults applied to a world: none, one, or several (each of another input or symbol). */
export type Faults = Applied | readonly Applied[] | undefined;

/** The fault applied to this input (and symbol, when it is a symbol's), if any. */
function hits(faults: Faults, input: InputId, symbol?: string): Applied | undefined {
  const list: readonly Applied[] = faults === undefined ? [] : 'family' in faults ? [faults] : faults;
  return list.find((a) => a.family.input === input && (symbol === undefined || a.symbol === undefined || a.symbol === symbol));
}

/** A figure's quantity, stamp and mark as its producer reports it, the fault applied. */
function figureOf(
  h: Held,
  a: Applied | undefined,
  now: number,
  freshMs: number,
): { qty: number | 'abc'; atMs: number; mark: number | 'abc' | undefined } | 'missing' | 'wrong_type' {
  const base = { qty: h.qty as number | 'abc', atMs: now - freshMs, mark: h.mark as number | 'abc' | undefined };
  if (a === undefined) return base;
  switch (a.family.way) {
    case 'missing':
      return 'missing';
    case 'wrong_type':
      return 'wrong_type';
    case 'stale':
      return { ...base, atMs: now - STALE_MS, qty: h.qty / 2 };
    case 'future':
      // A host clock 10 min ahead, reporting the position (all but) flat.
      return { ...base, atMs: now + AHEAD_MS, qty: 0 };
    case 'unparsable':
      return { ...base, qty: 'abc' };
    case 'smaller':
      // Newer than every true figure.
      return { ...base, atMs: now - 100, qty: h.qty * a.share };
    case 'larger':
      return { ...base, atMs: now - 100, qty: h.qty * 10 };
    default:
      // The named-test families (single-faults.ts ABSENCE_FAMILIES) need a decision before the fault.
      throw new Error(`${a.family.way} is no one-fault way`);
  }
}

/** A view row's own sigma: none in the true world (the tracker writes none), the snapshot_sigma fault's otherwise. */
function snapshotSigmaOf(h: Held, a: Applied | undefined): string | undefined {
  if (a === undefined) return undefined;
  if (a.family.way === 'unparsable') return 'abc';
  return String(a.family.way === 'smaller' ? h.sigma * a.share : h.sigma * 10);
}

/** P3.3's mark of a hash, the p33_mark fault applied. */
function p33MarkOf(h: Held, a: Applied | undefined): number | 'abc' | undefined {
  if (a === undefined) return h.mark;
  if (a.family.way === 'missing') return undefined;
  if (a.family.way === 'unparsable') return 'abc';
  return a.family.way === 'smaller' ? h.mark / 100_000 : h.mark * 10;
}

/** A mark (or sigma) of a quote source, the fault applied: [value, stamp] or what replaces the key. */
function quoteOf(value: number, a: Applied | undefined, now: number, freshMs: number): [number | 'abc' | undefined, number] | 'wrong_type' {
  if (a === undefined) return [value, now - freshMs];
  switch (a.family.way) {
    case 'missing':
      return [undefined, now - freshMs];
    case 'wrong_type':
      return 'wrong_type';
    case 'stale':
      return [value / 2, now - STALE_MS];
    case 'future':
      return [value / 100_000, now + AHEAD_MS];
    case 'unparsable':
      return ['abc', now - freshMs];
    case 'smaller':
      return [value / 100_000, now - 100];
    case 'larger':
      return [value * 10, now - 100];
    default:
      throw new Error(`${a.family.way} is no one-fault way`);
  }
}

const flatSymbol = (i: number) => `F${i}USDT`;

/**
 * Position figures a seed leaves out (a vanished position's, seedVanished): of one symbol or every
 * one, every producer's, the snapshot lane's (the balance tracker stopped), or the stream's alone
 * (its hashes written to expire).
 */
interface Skipped {
  readonly symbol: string | '*';
  readonly lanes: 'all' | 'snapshot' | 'stream' | 'p33';
  /** What P3.3's skipped hashes are written as instead (Vanishing `stale`, `flat_mistake`). */
  readonly p33?: 'stale_flat' | 'flat_mistake';
}

function skipped(skip: Skipped | undefined, symbol: string, producer: PositionProducer): boolean {
  if (skip === undefined || (skip.symbol !== '*' && skip.symbol !== symbol)) return false;
  if (skip.lanes === 'all') return true;
  if (skip.lanes === 'p33') return P33_LAYOUTS.includes(producer);
  return skip.lanes === 'snapshot' ? laneOf(producer) === 'snapshot' : producer === 'tracker_entry';
}

/**
 * A P3.3 hash that no longer tells the position: left flat with a stamp STALE_MS old (no fresh
 * report), or `position_amt` 0 beside the leg's side (no writer's close: P3.3's side follows the
 * amount's sign, position_state_brain/main.py @73fab1f55 line 513).
 */
function p33Replaced(h: Held, producer: PositionProducer, how: 'stale_flat' | 'flat_mistake', now: number): Record<string, string> {
  const atSec = (how === 'stale_flat' ? now - STALE_MS : now - 2000) / 1000;
  const hash = producer === 'p33_seed_hash' ? p33SeedHash(0, h.mark, atSec) : p33NewestHash(h.symbol, 0, h.mark, atSec);
  if (how === 'flat_mistake') hash.side = h.shortQty === undefined ? 'LONG' : 'SHORT';
  return hash;
}

/** The tracker's round is stamped before its entries (the earliest snapshot-lane figure, figureOf's freshMs). */
const TRACKER_ROUND_BEFORE_MS = 2000 + POSITION_PRODUCERS.indexOf('view_row') * 300;

/** Every leg the snapshot lane reports is written, fresh and readable: the tracker's round can be stamped. */
function trackerRoundConsistent(w: World, a: Faults, skip: Skipped | undefined): boolean {
  if (hits(a, 'snapshot_stream') !== undefined || hits(a, 'view_index') !== undefined) return false;
  return w.held.every((h) =>
    h.producers
      .filter((p) => laneOf(p) === 'snapshot')
      // A symbol whose hashes are written to expire (its stream entries skipped): its view rows are going too.
      .every(
        (p) => !skipped(skip, h.symbol, p) && !(skip?.lanes === 'stream' && skip.symbol === h.symbol) && hits(a, p, h.symbol) === undefined,
      ),
  );
}

/** The SHORT leg's quantity as a producer reports it: the fault's share of the LONG applied to it too. */
function legOf(qty: number, h: Held): number;
function legOf(qty: number | 'abc', h: Held): number | 'abc';
function legOf(qty: number | 'abc', h: Held): number | 'abc' {
  return qty === 'abc' ? qty : (qty * (h.shortQty ?? 0)) / h.qty;
}

const str = (v: number | 'abc'): string => (v === 'abc' ? v : pyFloat(v));

/**
 * Writes `w` at clock `now`, with the fault `a` when given, then refreshes the position index as
 * its job does (handlers/positions/index-job.ts), P3.3's allowlist naming every symbol P3.3 writes;
 * or, as `indexJob` says, not at all, or once before the writes (late with the next).
 */
export async function seed(
  r: Redis,
  committer: TransactionCommitter,
  w: World,
  now: number,
  a: Faults,
  indexJob: Timing['indexJob'] = 'after',
  /** Position figures not written (a vanished position's, Vanishing); their quotes are. */
  skip?: Skipped,
): Promise<void> {
  const nowSec = Math.floor(now / 1000);
  const refresh = (at: number, symbols: readonly string[]) =>
    refreshPositionIndex(r, committer, at, { POSITION_P33_SYMBOLS: [...new Set(symbols)].join(',') });
  // Its last run a refresh period before the producers' writes, on an empty keyspace, P3.3 configured as below.
  if (indexJob === 'late')
    await refresh(now - 5000, [
      ...w.held.filter((h) => h.producers.some((p) => P33_LAYOUTS.includes(p))).map((h) => h.symbol),
      ...Array.from({ length: w.flat }, (_, i) => flatSymbol(i)),
    ]);
  const p = r.pipeline();
  const wrongType = (key: string) => p.sadd(key, 'not-what-you-expect');
  const p33Symbols: string[] = [];
  const viewSymbols: string[] = [];
  const entries: { atMs: number; fields: Record<string, string> }[] = [];
  for (const h of w.held) {
    for (const producer of h.producers) {
      if (skipped(skip, h.symbol, producer)) {
        if (skip?.p33 !== undefined && P33_LAYOUTS.includes(producer)) {
          p33Symbols.push(h.symbol);
          p.hset(
            producer === 'p33_seed_hash' ? keys.p33PositionSnapshot(h.symbol) : keys.p33StatePositions(h.symbol),
            p33Replaced(h, producer, skip.p33, now),
          );
        }
        continue;
      }
      const fig = figureOf(h, hits(a, producer, h.symbol), now, 2000 + POSITION_PRODUCERS.indexOf(producer) * 300);
      if (fig === 'missing') {
        // A layout P3.3 stopped writing may still be listed by the other's index entry.
        continue;
      }
      if (producer === 'tracker_entry') {
        if (fig === 'wrong_type') continue;
        const fields = balanceTrackerSnapshot(h.symbol, 1, h.mark, fig.atMs / 1000);
        fields.position_qty = str(fig.qty);
        entries.push({ atMs: fig.atMs, fields });
        if (h.shortQty !== undefined) {
          const short = balanceTrackerSnapshot(h.symbol, -1, h.mark, fig.atMs / 1000);
          short.position_qty = str(legOf(fig.qty, h));
          entries.push({ atMs: fig.atMs, fields: short });
        }
      } else if (producer === 'view_row') {
        viewSymbols.push(h.symbol);
        // position-snapshot's rows of the tracker's entries (handlers/position-snapshot.ts): each
        // leg's row, and the symbol's row of the newest entry (the SHORT's in hedge mode, applied
        // last). The fault is the view's of the symbol: every row of it.
        const rows: [string, 'LONG' | 'SHORT', number | 'abc'][] = [
          [keys.positionLeg(h.symbol, 'LONG'), 'LONG', fig === 'wrong_type' ? 0 : fig.qty],
        ];
        if (h.shortQty !== undefined)
          rows.push([keys.positionLeg(h.symbol, 'SHORT'), 'SHORT', fig === 'wrong_type' ? 0 : legOf(fig.qty, h)]);
        rows.push([keys.position(h.symbol), rows.at(-1)![1], rows.at(-1)![2]]);
        if (fig === 'wrong_type') {
          for (const [key] of rows) wrongType(key);
          continue;
        }
        // With the snapshot_sigma fault, a seed-format snapshot's own sigma too (seed 000: position_notional_usd, sigma).
        const ownSigma = snapshotSigmaOf(h, hits(a, 'snapshot_sigma', h.symbol));
        for (const [key, side, qty] of rows)
          p.hset(key, {
            symbol: h.symbol,
            position_notional_usd: qty === 'abc' ? 'abc' : String(qty * h.mark),
            qty: str(qty),
            mark_price: String(h.mark),
            side,
            updated_at: String(fig.atMs),
            source_id: `${fig.atMs}-0`,
            ...(ownSigma === undefined ? {} : { sigma: ownSigma }),
          });
      } else {
        p33Symbols.push(h.symbol);
        const key = producer === 'p33_seed_hash' ? keys.p33PositionSnapshot(h.symbol) : keys.p33StatePositions(h.symbol);
        if (fig === 'wrong_type') {
          wrongType(key);
          continue;
        }
        const mark = p33MarkOf(
          h,
          P33_LAYOUTS.find((l) => h.producers.includes(l)) === producer ? hits(a, 'p33_mark', h.symbol) : undefined,
        );
        const leg = fig.qty === 'abc' ? 1 : h.shortQty === undefined ? fig.qty : -legOf(fig.qty, h);
        const hash =
          producer === 'p33_seed_hash' ? p33SeedHash(leg, h.mark, fig.atMs / 1000) : p33NewestHash(h.symbol, leg, h.mark, fig.atMs / 1000);
        if (fig.qty === 'abc') hash.position_amt = 'abc';
        if (mark === undefined) {
          delete hash.mark_price;
          delete hash.current_price;
        } else hash.mark_price = str(mark);
        p.hset(key, hash);
      }
    }
  }
  // P3.3's universe: flat hashes under both layouts (no position), their quotes as any symbol's.
  for (let i = 0; i < w.flat; i++) {
    const symbol = flatSymbol(i);
    p33Symbols.push(symbol);
    p.hset(keys.p33PositionSnapshot(symbol), p33SeedHash(0, 10, (now - 2500) / 1000));
    p.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, 0, 10, (now - 2500) / 1000));
    seedQuotes(p, symbol, 10, 0.05, now, undefined);
  }
  for (const h of w.held) seedQuotes(p, h.symbol, h.mark, h.sigma, now, a);
  seedQuotes(p, NEW_SYMBOL, NEW_MARK, 0.05, now, a);

  // The listings.
  // P3.3's index breaks after the index job's refresh (below): the held index stands, as when the key breaks between two refreshes.
  const breaksAfterRefresh = (input: InputId) => input === 'p33_index' && hits(a, input)?.family.way === 'wrong_type';
  const listing = (input: InputId, key: string, members: readonly string[]) => {
    const at = hits(a, input);
    if (at?.family.way === 'wrong_type' && !breaksAfterRefresh(input)) p.set(key, 'not-a-set');
    else if (at?.family.way !== 'missing' && members.length > 0) p.sadd(key, ...new Set(members));
  };
  listing('p33_index', keys.p33PositionIndex, p33Symbols);
  listing('view_index', keys.activePositions, viewSymbols);
  if (hits(a, 'snapshot_stream')?.family.way === 'wrong_type') p.set(streams.positionSnapshot, 'not-a-stream');
  else {
    entries.sort((x, y) => x.atMs - y.atMs);
    entries.forEach((e, i) => p.xadd(streams.positionSnapshot, `${e.atMs}-${i}`, ...Object.entries(e.fields).flat()));
  }
  // The tracker's round: its account hash, stamped before the entries it published (it writes the
  // hash first, balance_tracker.py:148 then :169). Only where the round is the world's snapshot
  // lane as seeded: a running tracker publishes every open leg, so a round stamped while one it
  // reported is absent (skipped, missing, stale, unreadable) would say that leg was closed.
  if (trackerRoundConsistent(w, a, skip)) {
    const legs = w.held.reduce((n, h) => n + (h.shortQty === undefined ? 1 : 2), 0);
    p.hset(keys.trackerAccount, balanceTrackerAccount(legs, Math.floor((now - TRACKER_ROUND_BEFORE_MS) / 1000)));
  }

  // Equity, chosen for the world's true heat.
  const exposure = w.held.reduce((sum, h) => sum + grossQty(h) * h.mark * h.sigma, 0);
  const equity = Math.max(1, Math.round(exposure / w.heat));
  const eq = hits(a, 'equity');
  if (eq?.family.way === 'wrong_type') wrongType(keys.portfolioState);
  else
    p.hset(keys.portfolioState, {
      equity_usd: eq?.family.way === 'unparsable' ? 'abc' : String(equity),
      timestamp: String(eq?.family.way === 'future' ? nowSec + AHEAD_MS / 1000 : nowSec),
    });

  // The reservation of a permitted open on a symbol not in the book (reservations.ts's member).
  if (hits(a, 'reservations')?.family.way === 'wrong_type') p.set(keys.governorReservations, 'not-a-zset');
  else if (w.reservation)
    p.zadd(
      keys.governorReservations,
      now + 60_000,
      JSON.stringify({
        plan_id: 'reserved-1',
        symbol: RESERVED_SYMBOL,
        notional: 50,
        slot: true,
        book_qty: 0,
        book_notional: 0,
        reserved_at: now - 1000,
        order_qty: 0.5,
        direction: 1,
      }),
    );

  // P2.8's budget hashes (testnet only logs them).
  for (const symbol of [...w.held.map((h) => h.symbol), NEW_SYMBOL]) {
    const b = hits(a, 'budget', symbol);
    if (b?.family.way === 'wrong_type') wrongType(keys.budget(symbol));
    else
      p.hset(keys.budget(symbol), {
        budget_usd: b?.family.way === 'future' ? '0' : '1000000',
        timestamp: String(b?.family.way === 'future' ? nowSec + AHEAD_MS / 1000 : nowSec),
        mode: b?.family.way === 'future' ? 'enforce' : 'shadow',
      });
  }

  // The kill switch, off.
  const kill = hits(a, 'kill_switch');
  if (kill?.family.way === 'wrong_type') wrongType(keys.killSwitch);
  else p.set(keys.killSwitch, kill?.family.way === 'unparsable' ? 'maybe' : '0');

  for (const [error] of (await p.exec()) ?? []) if (error) throw error;

  // The position index's refresh at the deciding clock (a P3.3 index of another type fails it: the
  // book then reads that index as it is), then the governor's watch's own fault (no open was permitted).
  if (indexJob === 'after') await refresh(now, p33Symbols);
  if (breaksAfterRefresh('p33_index')) await r.del(keys.p33PositionIndex).then(() => r.set(keys.p33PositionIndex, 'not-a-set'));
  if (hits(a, 'p33_watch')?.family.way === 'wrong_type') await r.set(keys.p33Watch, 'not-a-zset');
}

/** A symbol's market state (mark, sigma), ticker and published sigma, the fault applied. */
function seedQuotes(p: ReturnType<Redis['pipeline']>, symbol: string, mark: number, sigma: number, now: number, a: Faults): void {
  const stateMark = quoteOf(mark, hits(a, 'market_state_mark', symbol), now, 1500);
  const stateSigma = quoteOf(sigma, hits(a, 'market_state_sigma', symbol), now, 1500);
  if (stateMark === 'wrong_type') p.sadd(keys.marketState(symbol), 'not-a-hash');
  else {
    const fields: Record<string, string> = { timestamp: String(stateMark[1]) };
    if (stateMark[0] !== undefined) fields.mark_price = String(stateMark[0]);
    if (stateSigma !== 'wrong_type' && stateSigma[0] !== undefined) fields.sigma = String(stateSigma[0]);
    p.hset(keys.marketState(symbol), fields);
  }
  const ticker = quoteOf(mark, hits(a, 'ticker_mark', symbol), now, 800);
  if (ticker === 'wrong_type') p.sadd(keys.ticker(symbol), 'not-a-hash');
  else if (ticker[0] !== undefined) {
    const hash = tickerHash(symbol, 1, ticker[1]);
    p.hset(keys.ticker(symbol), { ...hash, price: String(ticker[0]), markPrice: String(ticker[0]) });
  }
  const published = quoteOf(sigma, hits(a, 'published_sigma', symbol), now, 1000);
  if (published === 'wrong_type') p.sadd(keys.marketStatePublished(symbol), 'not-a-hash');
  else if (published[0] !== undefined) {
    const hash = marketStatePublished(1, published[1] / 1000);
    p.hset(keys.marketStatePublished(symbol), { ...hash, sigma: String(published[0]) });
  }
}

// ---- deciding one message in one world ----

export interface Decided {
  readonly gate: 'governor' | 'heat-gate';
  /** governor: permit or block, and its reason. */
  readonly event?: string;
  readonly reason?: string;
  /** heat gate: heat_score and fail_closed_cause. */
  readonly heat?: number;
  readonly failClosed?: string;
  /** The decision as its stream holds it (fields, and the entry's id). */
  readonly entry: Readonly<Record<string, string>>;
  /** Tries the decision took that were charged to the message (a Redis-state failure is held, never charged). */
  readonly attempts: number;
  readonly ms: number;
}

/** Both legs' quantity: gross exposure, what the caps and heat count. */
export const grossQty = (h: Held): number => h.qty + (h.shortQty ?? 0);

/** The true world's notional: every leg of every held position, and the reservation. */
export const trueBookNotional = (w: World): number => w.held.reduce((sum, h) => sum + grossQty(h) * h.mark, 0) + (w.reservation ? 50 : 0);

/** The true world's heat as the heat gate computes it (domain/heat.ts) over the equity seed() writes. */
export function trueHeat(w: World): number {
  const exposure = w.held.reduce((sum, h) => sum + grossQty(h) * h.mark * h.sigma, 0);
  return exposure / Math.max(1, Math.round(exposure / w.heat));
}

/** A leg past dust takes a position slot (handlers/governor/positions.ts DUST_QTY; docs/governor.md "Legs"). */
const DUST_QTY = 0.0001;

/** The true book's position slots: each leg past dust (a hedged symbol's two), and the reservation. */
export const trueSlots = (w: World): number =>
  w.held.reduce((n, h) => n + 1 + (h.shortQty !== undefined && h.shortQty > DUST_QTY ? 1 : 0), 0) + (w.reservation ? 1 : 0);

export function capsOf(w: World): Record<string, string> {
  const book = trueBookNotional(w);
  return {
    GOV_MAX_OPEN_POSITIONS: String(trueSlots(w) + w.slotsFree),
    GOV_MAX_TOTAL_NOTIONAL_USDT: String(book + 100 * w.totalRoom),
    GOV_MAX_NOTIONAL_PER_TRADE_USDT: '1000000',
    GOV_SYMBOL_COOLDOWN_SECONDS: '0',
    P26_MODE: 'enforce',
  };
}

export function rawOf(m: Message, w: World, now: number, id: string): Record<string, string> {
  const symbol = (on: 'new' | number) => (on === 'new' ? NEW_SYMBOL : w.held[on % w.held.length]!.symbol);
  if (m.kind === 'proposal') return { plan_id: `prop-${id}`, symbol: symbol(m.on), action: 'FULL_CLOSE' };
  // upstream's publish_plan fields (apply_layer/main.py at 8f5055c52, lines 673-690).
  const s = symbol(m.kind === 'open' ? m.on : m.on);
  const mark = s === NEW_SYMBOL ? NEW_MARK : w.held.find((h) => h.symbol === s)!.mark;
  return m.kind === 'open'
    ? {
        plan_id: `plan-${id}`,
        symbol: s,
        action: 'OPEN_LONG',
        decision: 'EXECUTE',
        side: 'BUY',
        qty: String(m.notional / mark),
        timestamp: String(now / 1000),
      }
    : {
        plan_id: `plan-${id}`,
        symbol: s,
        action: 'FULL_CLOSE_PROPOSED',
        decision: 'EXECUTE',
        side: 'SELL',
        qty: '1',
        timestamp: String(now / 1000),
      };
}

/**
 * Decides `m` in `w` (seeded afresh, with the fault `a` when given) at clock `now` through the gates'
 * real path (decideOnce), its reads sent on `reader` (default: `r`, which seeds and reads the
 * decision back), and commits it.
 */
export async function decide(
  r: Redis,
  committer: TransactionCommitter,
  w: World,
  m: Message,
  now: number,
  a: Faults,
  reader: RedisReader = r,
  clocks: Clocks = {},
): Promise<Decided> {
  await r.flushdb();
  const watch = await clocks.timing?.watch?.();
  try {
    if (clocks.vanishing === undefined) await seed(r, committer, w, now, a, clocks.timing?.indexJob);
    else await seedVanished(r, committer, w, now, a, watch?.reader ?? reader, clocks, clocks.vanishing);
    return await decideSeeded(r, committer, w, m, now, watch?.reader ?? reader, clocks);
  } finally {
    await watch?.stop();
  }
}

/**
 * `w` seeded earlier and counted by a governor decision then (which wrote the book's memory), its
 * position `v.on` gone since, and the rest of the world written afresh at `now`. Where figures go,
 * what Redis holds of the earlier world beyond the memory and the tracker's last round is flushed:
 * a producer that stopped leaves nothing its figure could still be read from (the stream's entries
 * of a stopped tracker are aged out, and so are its view rows, by their TTL). Where only P3.3's
 * index goes, nothing else does.
 */
async function seedVanished(
  r: Redis,
  committer: TransactionCommitter,
  w: World,
  now: number,
  a: Faults,
  reader: RedisReader,
  clocks: Clocks,
  v: Vanishing,
): Promise<void> {
  const held = w.held[v.on % w.held.length]!;
  const before = now - (v.how === 'stopped' ? POSITION_MAX_AGE_MS + 10_000 : 2000);
  await seed(r, committer, w, before, a);
  const probe = {
    plan_id: `probe-${before}`,
    symbol: PROBE_SYMBOL,
    action: 'OPEN_LONG',
    decision: 'EXECUTE',
    side: 'BUY',
    qty: '1',
    timestamp: String(before / 1000),
  };
  await decideOnce(createGovernor(), reader, committer, before, probe, { ...capsOf(w), ...clocks.settings });
  const [memory, round] = await Promise.all([r.hgetall(keys.positionsHeld), r.hgetall(keys.trackerAccount)]);
  // Where only P3.3's index goes, the index job's other listing and the governor's watch stay as the
  // earlier world left them (nothing rebuilds or forgets them: no index job runs).
  const kept = v.how === 'index_lost' ? [keys.p33HeldIndex, keys.p33Watch] : [];
  const dumps = await Promise.all(kept.map((key) => r.dumpBuffer(key)));
  await r.flushdb();
  if (Object.keys(memory).length > 0) await r.hset(keys.positionsHeld, memory);
  if (Object.keys(round).length > 0) await r.hset(keys.trackerAccount, round);
  const indexJob = clocks.timing?.indexJob;
  if (v.how === 'deleted') await seed(r, committer, w, now, a, indexJob, { symbol: held.symbol, lanes: 'all' });
  if (v.how === 'stale') await seed(r, committer, w, now, a, indexJob, { symbol: held.symbol, lanes: 'all', p33: 'stale_flat' });
  if (v.how === 'flat_mistake') await seed(r, committer, w, now, a, indexJob, { symbol: held.symbol, lanes: 'p33', p33: 'flat_mistake' });
  if (v.how === 'stopped') await seed(r, committer, w, now, a, indexJob, { symbol: '*', lanes: 'snapshot' });
  if (v.how === 'expired') {
    // Its producers stopped writing, its hashes expired (their TTLs; the tracker's entries aged out).
    await seed(r, committer, w, now, a, indexJob, { symbol: held.symbol, lanes: 'stream' });
    const hashes = [
      keys.p33PositionSnapshot(held.symbol),
      keys.p33StatePositions(held.symbol),
      keys.position(held.symbol),
      keys.positionLeg(held.symbol, 'LONG'),
      keys.positionLeg(held.symbol, 'SHORT'),
    ];
    for (const key of hashes) await r.pexpire(key, 1);
    while ((await r.exists(...hashes)) > 0) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  if (v.how === 'index_lost') {
    await seed(r, committer, w, now, a, 'never');
    await r.del(keys.p33PositionIndex);
    for (const [i, dump] of dumps.entries()) if (dump !== null) await r.restore(kept[i]!, 0, dump, 'REPLACE');
  }
}

async function decideSeeded(
  r: Redis,
  committer: TransactionCommitter,
  w: World,
  m: Message,
  now: number,
  reader: RedisReader,
  clocks: Clocks,
): Promise<Decided> {
  const handler: AnyHandler = m.kind === 'proposal' ? heatGate : createGovernor();
  const started = performance.now();
  const raw = rawOf(m, w, now, `${now}-1`);
  if (clocks.planStampAheadSec !== undefined && raw.timestamp !== undefined) raw.timestamp = String(now / 1000 + clocks.planStampAheadSec);
  const delivery = await decideOnce(handler, reader, committer, now, raw, { ...capsOf(w), ...clocks.settings }, clocks.deciding);
  const ms = performance.now() - started;
  if (delivery.answer !== 'committed') throw new Error(`decision not committed: ${delivery.answer}`);
  const decided = { ms, attempts: delivery.attempts };
  if (m.kind === 'proposal') {
    const [entry] = (await readStream(r, streams.heatDecision)).slice(-1);
    if (entry === undefined) throw new Error('no heat decision written');
    return { gate: 'heat-gate', heat: Number(entry.heat_score), failClosed: entry.fail_closed_cause, entry, ...decided };
  }
  const [event] = (await readStream(r, streams.governorEvents)).filter((e) => e.event === 'permit' || e.event === 'block').slice(-1);
  if (event === undefined) throw new Error('no governor decision written');
  return { gate: 'governor', event: event.event, reason: event.reason, entry: event, ...decided };
}
