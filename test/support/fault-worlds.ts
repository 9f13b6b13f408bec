import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { createGovernor } from '../../handlers/governor/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import type { TransactionCommitter } from '../../runtime/engine/commit.js';
import { keys, streams } from '../../schemas/keys.js';
import { balanceTrackerSnapshot, marketStatePublished, p33NewestHash, p33SeedHash, pyFloat, tickerHash } from './book-producers.js';
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
}

export interface Applied {
  readonly family: Family;
  readonly symbol: string | undefined;
  readonly share: number;
}

const hits = (a: Applied | undefined, input: InputId, symbol?: string): Applied | undefined =>
  a !== undefined && a.family.input === input && (symbol === undefined || a.symbol === undefined || a.symbol === symbol) ? a : undefined;

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

const str = (v: number | 'abc'): string => (v === 'abc' ? v : pyFloat(v));

/**
 * Writes `w` at clock `now`, with the fault `a` when given, then refreshes the position index as
 * its job does (the held index the book reads: handlers/positions/index-job.ts), P3.3's allowlist
 * naming every symbol P3.3 writes.
 */
export async function seed(r: Redis, committer: TransactionCommitter, w: World, now: number, a: Applied | undefined): Promise<void> {
  const nowSec = Math.floor(now / 1000);
  const p = r.pipeline();
  const wrongType = (key: string) => p.sadd(key, 'not-what-you-expect');
  const p33Symbols: string[] = [];
  const viewSymbols: string[] = [];
  const entries: { atMs: number; fields: Record<string, string> }[] = [];
  for (const h of w.held) {
    for (const producer of h.producers) {
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
      } else if (producer === 'view_row') {
        viewSymbols.push(h.symbol);
        const key = keys.position(h.symbol);
        if (fig === 'wrong_type') {
          wrongType(key);
          continue;
        }
        // position-snapshot's row of a tracker snapshot (handlers/position-snapshot.ts).
        p.hset(key, {
          symbol: h.symbol,
          position_notional_usd: fig.qty === 'abc' ? 'abc' : String(fig.qty * h.mark),
          qty: str(fig.qty),
          mark_price: String(h.mark),
          side: 'LONG',
          updated_at: String(fig.atMs),
          source_id: `${fig.atMs}-0`,
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
          hits(a, 'p33_mark', h.symbol) && P33_LAYOUTS.find((l) => h.producers.includes(l)) === producer ? a : undefined,
        );
        const hash =
          producer === 'p33_seed_hash'
            ? p33SeedHash(fig.qty === 'abc' ? 1 : fig.qty, h.mark, fig.atMs / 1000)
            : p33NewestHash(h.symbol, fig.qty === 'abc' ? 1 : fig.qty, h.mark, fig.atMs / 1000);
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
    const symbol = `F${i}USDT`;
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

  // Equity, chosen for the world's true heat.
  const exposure = w.held.reduce((sum, h) => sum + h.qty * h.mark * h.sigma, 0);
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
  await refreshPositionIndex(r, committer, now, { POSITION_P33_SYMBOLS: [...new Set(p33Symbols)].join(',') });
  if (breaksAfterRefresh('p33_index')) await r.del(keys.p33PositionIndex).then(() => r.set(keys.p33PositionIndex, 'not-a-set'));
  if (hits(a, 'p33_watch')?.family.way === 'wrong_type') await r.set(keys.p33Watch, 'not-a-zset');
}

/** A symbol's market state (mark, sigma), ticker and published sigma, the fault applied. */
function seedQuotes(
  p: ReturnType<Redis['pipeline']>,
  symbol: string,
  mark: number,
  sigma: number,
  now: number,
  a: Applied | undefined,
): void {
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

export function capsOf(w: World): Record<string, string> {
  const book = w.held.reduce((sum, h) => sum + h.qty * h.mark, 0) + (w.reservation ? 50 : 0);
  return {
    GOV_MAX_OPEN_POSITIONS: String(w.held.length + (w.reservation ? 1 : 0) + w.slotsFree),
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
  a: Applied | undefined,
  reader: Redis = r,
  clocks: Clocks = {},
): Promise<Decided> {
  await r.flushdb();
  await seed(r, committer, w, now, a);
  const handler: AnyHandler = m.kind === 'proposal' ? heatGate : createGovernor();
  const started = performance.now();
  const raw = rawOf(m, w, now, `${now}-1`);
  if (clocks.planStampAheadSec !== undefined && raw.timestamp !== undefined) raw.timestamp = String(now / 1000 + clocks.planStampAheadSec);
  const delivery = await decideOnce(handler, reader, committer, now, raw, capsOf(w), clocks.deciding);
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
