/**
 * The middle of the position book: a pure fold of every producer's words on every symbol, what the
 * book remembered was held, and the clock, into the book. No Redis here: book.ts reads and decodes
 * (loadPositionBook), this decides. The rule is docs/governor.md "Figures":
 * - a position is (symbol, leg): LONG and SHORT legs of one symbol are kept apart; a producer that
 *   reports one leg never erases another; legs add gross exposure;
 * - a leg counts at the largest of its fresh figures; a refused figure makes its symbol of unknown size;
 * - a leg the book remembered as held whose producers have gone silent (hash deleted or expired,
 *   figure aged out with its producer stopped, index lost) is of unknown size, never flat, until a
 *   fresh report says flat (or an operator clears it: `quantum-gates positions clear`).
 */

/** A leg of a position. Hedge-mode accounts hold both legs of a symbol; one-way accounts one. */
export type Leg = 'LONG' | 'SHORT';
export const LEGS: readonly Leg[] = ['LONG', 'SHORT'];

/** Which producer's lane a figure came by: our view and the snapshot stream (`snapshot`), or a P3.3 prefix. */
export type Lane = string;
/** The lane of the position snapshot stream and our view of it. */
export const SNAPSHOT_LANE: Lane = 'snapshot';
/** The lane of a memory value no one can read (handlers/positions/memory.ts): any producer's flat may be its report. */
export const UNKNOWN_LANE: Lane = '?';

export type PositionOrigin = 'view' | 'stream' | 'p33';

export interface BookPosition {
  readonly symbol: string;
  /**
   * The leg it is of: its producer's side (LONG/SHORT), else its sign. Undefined for a flat figure
   * (no leg: its producer says the symbol holds nothing). For a symbol of BookOf.positions, the
   * larger leg's.
   */
  readonly leg?: Leg;
  /** Signed as its source gave it (P3.3: position_amt × mark_price). In PositionBook.positions: the legs' gross, signed as the larger leg. */
  readonly notionalUsd: number;
  readonly sigma: number | undefined;
  readonly qty: number | undefined;
  readonly markPrice: number | undefined;
  /** Milliseconds since the epoch the figure is from; ranks the sources per symbol. */
  readonly asOfMs: number;
  readonly origin: PositionOrigin;
  /**
   * True for a stream figure in a repeating producer's format (the balance tracker's): it stops
   * counting POSITION_MAX_AGE_SEC after asOfMs. Our view's rows of that format carry a TTL instead.
   */
  readonly ages?: boolean;
}

/**
 * Who wrote a figure: a position's, the position snapshot stream (our view of it) or the Position
 * Ledger (P3.3); the portfolio state's (equity); P2.8's budget hash.
 */
export type FigureSource = 'snapshot' | 'p33' | 'portfolio' | 'budget';

/**
 * Why a producer's word is no figure: stamped ahead beyond the skew, a figure no number, a key
 * Redis refused to read, or (`vanished`) a leg the book remembered as held that its producer no
 * longer reports and never reported closed.
 */
export type FigureRefusal = 'future' | 'unparsable' | 'unreadable' | 'vanished';

/** A producer's word the book refused: a position's makes its symbol's exposure unknown (never taken as flat). */
export interface RefusedFigure {
  /** The symbol it is of; the portfolio state's is of none (''). */
  readonly symbol: string;
  readonly source: FigureSource;
  readonly reason: FigureRefusal;
  /** The key it was read from (a stream entry: the stream@id; a vanished leg: its lane's key). */
  readonly key: string;
  /** How far ahead of the clock it was stamped (ms), for `future`. */
  readonly aheadMs?: number;
  /** For `vanished`: the leg. */
  readonly leg?: Leg;
}

/** A position figure that is present but not a plain finite number. */
export interface UntrustedFigure {
  readonly symbol: string;
  readonly field: string;
  readonly value: string;
}

/** The untrusted field a figure stamped ahead is named by (its value: the key). */
export const STAMPED_AHEAD = 'stamped_ahead';

/**
 * One producer's word on a symbol: its figure (and the key it was read from), or why there is no
 * figure anyone can use (RefusedFigure).
 */
export type LaneWord = { readonly figure: BookPosition; readonly key: string } | { readonly refused: RefusedFigure };

/** The bounds a figure must lie within to count (the book's settings, in ms). */
export interface FigureBounds {
  /** A repeating producer's figure older than this is no position (POSITION_MAX_AGE_SEC); undefined: none ages. */
  readonly maxAgeMs: number | undefined;
  /** Stamped further ahead of the clock than this: no figure (PRICE_MAX_SKEW_SEC). */
  readonly maxSkewMs: number;
  readonly now: number;
}

/** What the book remembered of one held leg: the lanes that reported it, and when its first figure was (ms). */
export interface HeldLeg {
  readonly by: readonly Lane[];
  readonly atMs: number;
  /** The lanes of `by` that went silent without their close, as of the read that wrote it: the leg is of unknown size. */
  readonly silent?: readonly Lane[];
  /**
   * Remembered from refused words alone: no lane of `by` ever reported the leg readably. A lane that
   * then speaks readably on the symbol has answered (its figures say what it holds); one that falls
   * silent leaves the leg of unknown size, as any remembered leg's.
   */
  readonly unread?: true;
}

/** The book's memory: per `SYMBOL:LEG` (heldKey). */
export type HeldMemory = ReadonlyMap<string, HeldLeg>;

export const heldKey = (symbol: string, leg: Leg) => `${symbol}:${leg}`;

/** `SYMBOL:LEG` back into its parts; undefined for a field of no leg. */
export function parseHeldKey(key: string): { symbol: string; leg: Leg } | undefined {
  const at = key.lastIndexOf(':');
  const leg = key.slice(at + 1);
  return at > 0 && (leg === 'LONG' || leg === 'SHORT') ? { symbol: key.slice(0, at), leg } : undefined;
}

/**
 * Evidence that a silent lane reported its leg closed (each producer's way of closing, read from
 * upstream): P3.3 rewrites its hash flat (a fresh flat word, handled by the fold itself); the seeds'
 * snapshot closes with a 0 (a fresh flat word while unapplied; position-snapshot forgets the legs
 * when it applies it); the balance tracker omits a closed position from its next round while still
 * running (balance_tracker.py:185-188: only positionAmt ≠ 0 are published, after the account hash).
 */
export interface CloseEvidence {
  /** When the balance tracker last completed a round (its account hash's timestamp, ms), undefined when unknown. */
  readonly trackerRoundMs: number | undefined;
}

/**
 * The memory's mark on P3.3's listing (docs/governor.md "Absence is not flat"): a listing once unreadable stays
 * of unknown completeness until it has been listed whole again. While P3.3's index is unreadable no
 * decision reads P3.3's hashes through it, so the memory learns nothing of them; were the index then
 * lost (deleted, no index job to rebuild it), the book would read it empty and its positions as none.
 * Both times are Redis's clock (ms); each field of the memory is written by its own writer, so neither
 * write can undo the other's.
 */
export interface ListingMark {
  /** When a decision last found P3.3's index unreadable while listing through it (written by the decisions). */
  readonly unreadableAtMs?: number;
  /** When the position index job began its last refresh completed while a mark stood (written by the job). */
  readonly refreshedAtMs?: number;
}

/** How this read listed P3.3's symbols (PositionBook.p33Listing), and whether Redis refused its index. */
export interface P33ListingRead {
  readonly from: 'watched' | 'all';
  readonly refused: boolean;
}

/**
 * The mark after a read, and since when P3.3's listing is of unknown completeness (undefined: it is
 * complete, or its index was refused in this very read, which the book names as such). Pure.
 * - Listed by the live key watch (every P3.3 hash, not the index): listed whole; the mark goes.
 * - Listed through the index, refused: marked now (the latest sighting, so a refresh begun before it
 *   clears nothing).
 * - Listed through the index, read: the mark stands until the index job has completed a refresh it
 *   began after the last sighting (a refresh fails while the index is of another type, and one that
 *   completes lists every symbol P3.3 is configured with); then it goes.
 */
export function foldListingMark(
  mark: ListingMark,
  read: P33ListingRead,
  now: number,
): { readonly mark: ListingMark; readonly incompleteSinceMs: number | undefined } {
  if (read.from === 'watched') return { mark: {}, incompleteSinceMs: undefined };
  const sighted = mark.unreadableAtMs;
  if (read.refused) {
    const unreadableAtMs = Math.max(now, sighted ?? now);
    return {
      mark: { unreadableAtMs, ...(mark.refreshedAtMs === undefined ? {} : { refreshedAtMs: mark.refreshedAtMs }) },
      incompleteSinceMs: undefined,
    };
  }
  if (sighted === undefined || (mark.refreshedAtMs !== undefined && mark.refreshedAtMs > sighted))
    return { mark: {}, incompleteSinceMs: undefined };
  return { mark, incompleteSinceMs: sighted };
}

export interface FoldInput {
  /** Every producer's words, each on a symbol by its lane; a later word of the same slot (lane, leg) replaces an earlier. */
  readonly words: readonly SlotWord[];
  readonly memory: HeldMemory;
  /** The memory's mark on P3.3's listing as read (default: none). */
  readonly listingMark?: ListingMark;
  /** How P3.3's symbols were listed (default: by the key watch, which needs no mark). */
  readonly p33Listing?: P33ListingRead;
  readonly evidence: CloseEvidence;
  readonly bounds: FigureBounds;
  /** The market's sigma of a symbol the book holds (the largest of its two producers'), read where a position needs it. */
  readonly marketSigma: (symbol: string) => number | undefined;
  /** The lane's key for `symbol` (named by a vanished leg's refusal). */
  readonly laneKey: (lane: Lane, symbol: string) => string;
}

/**
 * A word in its slot: its lane and either a leg (a producer that reports legs apart: the balance
 * tracker's side) or `*` (the producer's word on the whole symbol: a seed-format snapshot, P3.3's
 * one hash per symbol), which replaces every earlier word of its lane on the symbol.
 */
export interface SlotWord {
  readonly symbol: string;
  readonly lane: Lane;
  readonly slot: Leg | '*';
  readonly word: LaneWord;
}

export interface FoldedBook {
  /**
   * Open positions, one per symbol, sorted by symbol: each leg at the largest |notional| of its fresh
   * figures, the legs added (gross), with the largest sigma any figure carries (else the market's).
   */
  readonly positions: readonly BookPosition[];
  /** Per symbol, each producer's fresh figure (flat and unpriced ones included), legs tagged. */
  readonly figures: ReadonlyMap<string, readonly BookPosition[]>;
  readonly refused: readonly RefusedFigure[];
  readonly untrusted: readonly UntrustedFigure[];
  /** What the book remembers after this read (written back by decisions, handlers/positions/memory.ts). */
  readonly memory: HeldMemory;
  /** The mark on P3.3's listing after this read (written back with the memory). */
  readonly listingMark: ListingMark;
  /** Since when P3.3's listing is of unknown completeness (foldListingMark), when it is. */
  readonly p33IncompleteSinceMs: number | undefined;
}

/** The leg a figure is of: its side, else its sign; undefined when flat. */
export function legOf(side: unknown, signed: number | undefined): Leg | undefined {
  const word = typeof side === 'string' ? side.trim().toUpperCase() : '';
  if (word === 'LONG' || word === 'SHORT') return word;
  if (signed === undefined || signed === 0) return undefined;
  return signed > 0 ? 'LONG' : 'SHORT';
}

/** A figure that says its producer holds nothing on its leg (or symbol). */
const isFlat = (f: BookPosition) => f.notionalUsd === 0 && (f.qty === undefined || f.qty === 0);

/**
 * Older than the bound: its producer stopped repeating it. Only a repeating producer's figures
 * age (the balance tracker's; in our view its rows carry the same bound as a TTL). The seeds'
 * snapshots close with a 0, P3.3 reports its closes and its hashes carry their own TTL.
 */
function agedOut(p: BookPosition, maxAgeMs: number | undefined, moment: Moment): boolean {
  return p.ages === true && maxAgeMs !== undefined && p.asOfMs > 0 && moment.olderThan(p.asOfMs, maxAgeMs);
}

/**
 * The clock as the fold reads it: through comparisons, each noted by a NotedMoment, so a symbol's
 * fold kept from an earlier read (KeptFolds) is reused only at a clock where every one of them
 * answers the same; a fold that takes the reading itself (`exact`) is reused at no other clock.
 */
export interface Moment {
  readonly now: number;
  /** now − t > span: a figure stamped at t is older than span. */
  olderThan(t: number, span: number): boolean;
  /** t − now > span: a figure stamped at t is stamped more than span ahead. */
  aheadBy(t: number, span: number): boolean;
  /** The reading itself, for a value that carries it. */
  exact(): number;
}

/** A Moment that notes nothing: for a fold no one keeps. */
export function momentAt(now: number): Moment {
  return new PlainMoment(now);
}

class PlainMoment implements Moment {
  constructor(readonly now: number) {}

  olderThan(t: number, span: number): boolean {
    return this.now - t > span;
  }

  aheadBy(t: number, span: number): boolean {
    return t - this.now > span;
  }

  exact(): number {
    return this.now;
  }
}

/** A Moment that notes each comparison made of it and its answer, and whether the reading itself was taken. */
class NotedMoment implements Moment {
  /** Four numbers a comparison: its kind (0 olderThan, 1 aheadBy), t, span, its answer (1 true). */
  readonly checks: number[] = [];
  taken = false;

  constructor(readonly now: number) {}

  olderThan(t: number, span: number): boolean {
    return this.noted(0, t, span, this.now - t > span);
  }

  aheadBy(t: number, span: number): boolean {
    return this.noted(1, t, span, t - this.now > span);
  }

  exact(): number {
    this.taken = true;
    return this.now;
  }

  private noted(kind: number, t: number, span: number, answer: boolean): boolean {
    this.checks.push(kind, t, span, answer ? 1 : 0);
    return answer;
  }
}

/** Whether every comparison `checks` notes answers the same at `now`. */
function answersAlike(checks: readonly number[], now: number): boolean {
  for (let i = 0; i < checks.length; i += 4) {
    const [kind, t, span, answer] = [checks[i]!, checks[i + 1]!, checks[i + 2]!, checks[i + 3]!];
    if ((kind === 0 ? now - t > span : t - now > span) !== (answer === 1)) return false;
  }
  return true;
}

/**
 * The producers' words sorted by the rule of docs/governor.md "Figures": a refused word, or a
 * figure stamped further ahead than the skew, is a refusal (the symbol's exposure is unknown, not
 * flat); a figure older than its bound is no figure (a repeating producer stopped repeating it); the
 * rest are fresh. Refusals are noted in `untrusted` too, so a gate that needs every figure says so.
 */
export function sortWords(
  words: Iterable<LaneWord>,
  bounds: FigureBounds,
  untrusted: UntrustedFigure[],
  moment: Moment = momentAt(bounds.now),
) {
  const fresh: BookPosition[] = [];
  const refused: RefusedFigure[] = [];
  for (const word of words) {
    if ('refused' in word) {
      refused.push(word.refused);
      continue;
    }
    const { figure, key } = word;
    if (moment.aheadBy(figure.asOfMs, bounds.maxSkewMs)) {
      refused.push({ symbol: figure.symbol, source: sourceOf(figure), reason: 'future', key, aheadMs: figure.asOfMs - moment.exact() });
      untrusted.push({ symbol: figure.symbol, field: STAMPED_AHEAD, value: key });
    } else if (!agedOut(figure, bounds.maxAgeMs, moment)) fresh.push(figure);
  }
  return { fresh, refused };
}

export function sourceOf(p: Pick<BookPosition, 'origin'>): FigureSource {
  return p.origin === 'p33' ? 'p33' : 'snapshot';
}

/**
 * Of a symbol's fresh figures, the one that sizes its heat: per leg the largest |notional| (a flat
 * figure removes nothing another producer still reports), the legs added, with the largest sigma
 * any of them carries.
 */
export function largestExposure(fresh: readonly BookPosition[]): BookPosition | undefined {
  const top = new Map<Leg | undefined, BookPosition>();
  let sigma: number | undefined;
  for (const f of fresh) {
    if (f.sigma !== undefined && (sigma === undefined || f.sigma > sigma)) sigma = f.sigma;
    if (f.notionalUsd === 0) continue;
    const leg = f.leg ?? legOf(undefined, f.notionalUsd);
    const before = top.get(leg);
    if (before === undefined || Math.abs(f.notionalUsd) > Math.abs(before.notionalUsd)) top.set(leg, f);
  }
  let larger: BookPosition | undefined;
  let gross = 0;
  for (const f of top.values()) {
    gross += Math.abs(f.notionalUsd);
    if (larger === undefined || Math.abs(f.notionalUsd) > Math.abs(larger.notionalUsd)) larger = f;
  }
  if (larger === undefined) return undefined;
  const notionalUsd = top.size === 1 ? larger.notionalUsd : Math.sign(larger.notionalUsd) * gross;
  return larger.sigma === sigma && notionalUsd === larger.notionalUsd ? larger : { ...larger, notionalUsd, sigma };
}

/** Whether a remembered leg was reported by `lane` (a leg nobody remembers, or no one knows who did, is anyone's to report flat). */
function reportedBy(held: HeldLeg | undefined, lane: Lane | undefined): boolean {
  return held === undefined || lane === undefined || held.by.includes(lane) || held.by.includes(UNKNOWN_LANE);
}

/** The larger of two figures where both are known, else the one that is. */
export function largestOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

/** A slot's keys in foldBook's map of a symbol's words, made once for each lane and slot (~3,000 words a read at 1,000 held). */
interface SlotKeys {
  /** `lane|slot`: the word's own slot. */
  readonly own: string;
  /** `lane|`: every slot of its lane begins so. */
  readonly ofLane: string;
  /** `lane|*`: its lane's word on the whole symbol. */
  readonly laneWhole: string;
}
const slotKeysMade = new Map<Lane, Map<Leg | '*', SlotKeys>>();
function slotKeys(lane: Lane, slot: Leg | '*'): SlotKeys {
  let ofLane = slotKeysMade.get(lane);
  if (ofLane === undefined) slotKeysMade.set(lane, (ofLane = new Map()));
  let keys = ofLane.get(slot);
  if (keys === undefined) ofLane.set(slot, (keys = { own: `${lane}|${slot}`, ofLane: `${lane}|`, laneWhole: `${lane}|*` }));
  return keys;
}

/**
 * Folds the producers' words, the memory and the clock into the book (see the module's comment),
 * symbol by symbol (foldSymbol); with `kept`, a symbol whose words, memory and clock comparisons are
 * those of an earlier read takes that read's fold (KeptFolds).
 */
export function foldBook(input: FoldInput, kept?: KeptFolds): FoldedBook {
  const { bounds, memory, evidence } = input;
  const bySymbol = new Map<string, Map<string, LaneWord>>();
  // A superseded figure's sigma, for a symbol whose fresh figures carry none.
  const supersededSigma = new Map<string, number>();
  for (const { symbol, lane, slot, word } of input.words) {
    let slots = bySymbol.get(symbol);
    if (slots === undefined) bySymbol.set(symbol, (slots = new Map()));
    const { ofLane, laneWhole, own } = slotKeys(lane, slot);
    for (const [at, before] of slots) {
      const replaced = at === own || (at.startsWith(ofLane) && (slot === '*' || at === laneWhole));
      if (!replaced) continue;
      if ('figure' in before && before.figure.sigma !== undefined) supersededSigma.set(symbol, before.figure.sigma);
      slots.delete(at);
    }
    slots.set(own, word);
  }
  // Symbols the memory names but no producer spoke of: their legs are judged too.
  for (const key of memory.keys()) {
    const held = parseHeldKey(key);
    if (held !== undefined && !bySymbol.has(held.symbol)) bySymbol.set(held.symbol, new Map());
  }

  const untrusted: UntrustedFigure[] = [];
  const figures = new Map<string, readonly BookPosition[]>();
  const refused: RefusedFigure[] = [];
  const positions: BookPosition[] = [];
  const remembered = new Map<string, HeldLeg>();
  const trackerLive =
    evidence.trackerRoundMs !== undefined &&
    (bounds.maxAgeMs === undefined || bounds.now - evidence.trackerRoundMs <= bounds.maxAgeMs) &&
    evidence.trackerRoundMs <= bounds.now + bounds.maxSkewMs;
  const context: SymbolContext = { bounds, trackerLive, trackerRoundMs: evidence.trackerRoundMs, laneKey: input.laneKey };
  for (const [symbol, slots] of bySymbol) {
    const legs = LEGS.map((leg) => memory.get(heldKey(symbol, leg)));
    const one = kept?.fold(symbol, slots, legs, context) ?? foldSymbol(symbol, slots, legs, context, momentAt(bounds.now));
    for (const u of one.untrusted) untrusted.push(u);
    for (const r of one.refused) refused.push(r);
    if (one.fresh.length > 0) figures.set(symbol, one.fresh);
    for (const [key, held] of one.remembered) remembered.set(key, held);
    const { top } = one;
    if (top === undefined) continue;
    // The largest of every producer's sigma (the figures' own and the market's two), as the caps take the largest figure.
    const sigma = largestOf(top.sigma, input.marketSigma(symbol)) ?? supersededSigma.get(symbol);
    positions.push(sigma === top.sigma ? top : { ...top, sigma });
  }
  positions.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  const listing = foldListingMark(input.listingMark ?? {}, input.p33Listing ?? { from: 'watched', refused: false }, bounds.now);
  return {
    positions,
    figures,
    refused,
    untrusted,
    memory: remembered,
    listingMark: listing.mark,
    p33IncompleteSinceMs: listing.incompleteSinceMs,
  };
}

/** What one symbol's fold depends on besides its words, its memory and the clock's comparisons. */
interface SymbolContext {
  readonly bounds: FigureBounds;
  /** Whether the balance tracker's last round is within the age bound (foldBook, at the read's clock). */
  readonly trackerLive: boolean;
  readonly trackerRoundMs: number | undefined;
  /** A function of its arguments alone (FoldInput.laneKey). */
  readonly laneKey: (lane: Lane, symbol: string) => string;
}

/** One symbol's part of the book. */
interface SymbolFold {
  readonly fresh: readonly BookPosition[];
  readonly refused: readonly RefusedFigure[];
  readonly untrusted: readonly UntrustedFigure[];
  readonly remembered: readonly (readonly [key: string, held: HeldLeg])[];
  /** Its position before the market's sigma (largestExposure of `fresh`), none when flat. */
  readonly top: BookPosition | undefined;
}

/**
 * One symbol's fold: its words by slot, what the memory held of its legs (in LEGS' order), and the
 * clock, read only through `moment`. A leg is remembered while any lane reports it; a lane that
 * reported it and falls silent is closed only by its own way of closing (CloseEvidence) or by a
 * fresh flat word of any producer on the leg (a single producer's positive, fresh "flat" is a
 * report); otherwise the leg is of unknown size.
 */
function foldSymbol(
  symbol: string,
  slots: ReadonlyMap<string, LaneWord>,
  legs: readonly (HeldLeg | undefined)[],
  { bounds, trackerLive, trackerRoundMs, laneKey }: SymbolContext,
  moment: Moment,
): SymbolFold {
  const untrusted: UntrustedFigure[] = [];
  const refused: RefusedFigure[] = [];
  const remembered: [string, HeldLeg][] = [];
  const heldOf = (leg: Leg) => legs[LEGS.indexOf(leg)];
  const lanesOf = new Map<BookPosition, Lane>();
  for (const [at, word] of slots) if ('figure' in word) lanesOf.set(word.figure, at.slice(0, at.lastIndexOf('|')));
  const sorted = sortWords(slots.values(), bounds, untrusted, moment);
  // A lane whose word on the symbol is refused: the symbol is of unknown size already (that
  // refusal), and the lane keeps what it was remembered for. Per leg too (a word on the whole
  // symbol, `*`, is on every leg), and the lanes whose word is a fresh figure.
  const refusedLanes = new Set<Lane>();
  const refusedOn = new Map<Leg, Set<Lane>>(LEGS.map((leg) => [leg, new Set<Lane>()]));
  const spokeLanes = new Set<Lane>();
  for (const [at, word] of slots) {
    const lane = at.slice(0, at.lastIndexOf('|'));
    const slot = at.slice(at.lastIndexOf('|') + 1);
    if ('refused' in word || !sorted.fresh.includes(word.figure)) {
      if ('refused' in word || sorted.refused.some((r) => r.key === word.key)) {
        refusedLanes.add(lane);
        for (const leg of LEGS) if (slot === '*' || slot === leg) refusedOn.get(leg)!.add(lane);
      }
    } else spokeLanes.add(lane);
  }
  for (const r of sorted.refused) refused.push(r);
  // A positive flat report: a fresh figure of no position (stamped within the age bound, so a
  // flat left behind by a stopped producer is none), clearing what its producer says it covers.
  // A flat that names no leg covers the legs its own lane reported held, not one only another
  // producer reported: P3.3's one hash per symbol is the first row positionRisk lists, so on a
  // hedge-mode account its FLAT is one leg's, and says nothing of the other. Beside a refused word
  // on the leg it is what remains after a refusal, no cross-checked report (a refusal never raises
  // trust): it clears nothing until the refusal is gone.
  const flatLegs = new Set<Leg>();
  for (const f of sorted.fresh) {
    if (!isFlat(f) || (bounds.maxAgeMs !== undefined && moment.olderThan(f.asOfMs, bounds.maxAgeMs))) continue;
    const lane = lanesOf.get(f);
    const covered = f.leg !== undefined ? [f.leg] : LEGS.filter((leg) => reportedBy(heldOf(leg), lane));
    for (const leg of covered) if (refusedOn.get(leg)!.size === 0) flatLegs.add(leg);
  }
  for (const leg of LEGS) {
    const claims = sorted.fresh.filter((f) => !isFlat(f) && (f.leg ?? legOf(undefined, f.notionalUsd ?? f.qty)) === leg);
    const claimLanes = new Set(claims.map((f) => lanesOf.get(f) ?? ''));
    const before = heldOf(leg);
    // A leg remembered from refusals alone: a lane now speaking readably on the symbol has answered.
    const silent = (before?.by ?? []).filter((lane) => !claimLanes.has(lane) && !(before?.unread === true && spokeLanes.has(lane)));
    const kept = flatLegs.has(leg) ? [] : silent.filter((lane) => refusedLanes.has(lane));
    const vanished = flatLegs.has(leg)
      ? []
      : silent.filter((lane) => {
          if (refusedLanes.has(lane)) return false;
          if (lane !== SNAPSHOT_LANE) return true;
          // The snapshot lane's repeating producer closes by omitting the leg from a round it ran
          // after the leg was last seen (and its rows aged out meanwhile: four missed rounds).
          return !(trackerLive && before !== undefined && trackerRoundMs! > before.atMs);
        });
    // Untrusted too: a gate that needs every figure (the heat gate) names it rather than skipping it.
    for (const lane of vanished) untrusted.push({ symbol, field: 'vanished_leg', value: `${leg} ${laneKey(lane, symbol)}` });
    for (const lane of vanished)
      refused.push({
        symbol,
        source: lane === SNAPSHOT_LANE ? 'snapshot' : 'p33',
        reason: 'vanished',
        key: laneKey(lane, symbol),
        leg,
      });
    // A refused word on a leg nobody reported readably: remembered from it (unread), so that the
    // word vanishing leaves the leg of unknown size, never flat (a refusal never raises trust).
    const fromRefusals = claimLanes.size === 0 && (before === undefined || before.unread === true);
    const unread = fromRefusals && !flatLegs.has(leg) ? [...refusedOn.get(leg)!] : [];
    if (claimLanes.size === 0 && vanished.length === 0 && kept.length === 0 && unread.length === 0) continue;
    // When it was first remembered: a tracker round after it proves the tracker ran since (a later
    // figure's time would add nothing, and rewriting it would make every decision write the memory).
    const atMs = before?.atMs ?? (claims.length === 0 ? moment.exact() : Math.max(0, ...claims.map((f) => f.asOfMs)));
    const by = [...new Set([...claimLanes, ...vanished, ...kept, ...unread])].sort();
    const held: HeldLeg = vanished.length === 0 ? { by, atMs } : { by, atMs, silent: [...vanished].sort() };
    remembered.push([heldKey(symbol, leg), fromRefusals ? { ...held, unread: true } : held]);
  }
  return { fresh: sorted.fresh, refused, untrusted, remembered, top: largestExposure(sorted.fresh) };
}

/**
 * Each symbol's fold of an earlier read, kept with what it was folded from, for the next read of a
 * large book: its words (the same objects, as book.ts decodes a reply the key watch keeps once),
 * what the memory held of its legs (the same objects likewise), the context's values and the
 * clock's comparisons (NotedMoment). A fold is a function of those alone, so where all of them are
 * alike the kept fold is the one this read would make. At 1,000 held, folding every symbol anew was
 * about a third of what a decision allocated (`npx tsx bench/book-allocations.ts`).
 * Two folds a symbol (gates of one process may read it with other settings); past MAX_KEPT_SYMBOLS
 * symbols all go at once.
 */
export class KeptFolds {
  private readonly bySymbol = new Map<string, KeptFold[]>();

  fold(symbol: string, slots: ReadonlyMap<string, LaneWord>, legs: readonly (HeldLeg | undefined)[], context: SymbolContext): SymbolFold {
    const { now } = context.bounds;
    const folds = this.bySymbol.get(symbol) ?? [];
    for (const kept of folds) if (foldedFrom(kept.inputs, slots, legs, context) && answersAlike(kept.checks, now)) return kept.fold;
    const moment = new NotedMoment(now);
    const fold = foldSymbol(symbol, slots, legs, context, moment);
    // A fold that took the clock's reading itself is of that clock alone.
    if (moment.taken) return fold;
    if (this.bySymbol.size >= MAX_KEPT_SYMBOLS && !this.bySymbol.has(symbol)) this.bySymbol.clear();
    this.bySymbol.set(symbol, [{ inputs: inputsOf(slots, legs, context), checks: moment.checks, fold }, ...folds.slice(0, 1)]);
    return fold;
  }
}

/** What a fold is made of besides the clock: the legs' memory, the context's values, then each slot and its word. */
function inputsOf(slots: ReadonlyMap<string, LaneWord>, legs: readonly (HeldLeg | undefined)[], context: SymbolContext): unknown[] {
  const inputs: unknown[] = [...legs, context.trackerLive, context.trackerRoundMs, context.bounds.maxAgeMs, context.bounds.maxSkewMs];
  for (const [at, word] of slots) inputs.push(at, word);
  return inputs;
}

/** Whether a kept fold's `inputs` (inputsOf) are these legs, context and slots: compared in place, nothing gathered. */
function foldedFrom(
  inputs: readonly unknown[],
  slots: ReadonlyMap<string, LaneWord>,
  legs: readonly (HeldLeg | undefined)[],
  context: SymbolContext,
): boolean {
  const contextAt = legs.length;
  if (inputs.length !== contextAt + 4 + 2 * slots.size) return false;
  for (let i = 0; i < contextAt; i++) if (inputs[i] !== legs[i]) return false;
  const { trackerLive, trackerRoundMs, bounds } = context;
  if (inputs[contextAt] !== trackerLive || inputs[contextAt + 1] !== trackerRoundMs) return false;
  if (inputs[contextAt + 2] !== bounds.maxAgeMs || inputs[contextAt + 3] !== bounds.maxSkewMs) return false;
  let i = contextAt + 4;
  for (const [at, word] of slots) if (inputs[i++] !== at || inputs[i++] !== word) return false;
  return true;
}

interface KeptFold {
  readonly inputs: readonly unknown[];
  readonly checks: readonly number[];
  readonly fold: SymbolFold;
}

const MAX_KEPT_SYMBOLS = 20_000;
