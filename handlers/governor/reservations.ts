import type { RedisReader } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { parseNumber, usd } from './numbers.js';
import type { Position } from './positions.js';
import type { UnreadableListing } from '../positions/book.js';
import { refusedKey } from '../positions/read-commands.js';

/**
 * A permitted open counted as exposure until its order shows in the book (issue #23, #37). Kept
 * as the member of the quantum:governor:{caps}:reservations sorted set (JSON), scored by its
 * expiry in ms.
 */
export interface Reservation {
  readonly planId: string;
  readonly symbol: string;
  /** The open's priced notional (|qty| × mark) at decision time. */
  readonly notional: number;
  /**
   * Whether its symbol had no open position when it was permitted. Kept for the member's layout:
   * the slot count looks at the book now (reservedExposure), since a held symbol closed before its
   * add fills is a new position again.
   */
  readonly slot: boolean;
  /** The symbol's position in the book at decision time, signed (short < 0): the baseline its fills are measured from. */
  readonly bookQty: number | undefined;
  readonly bookNotional: number;
  /**
   * The order's quantity (|qty|) and direction (+1 BUY/LONG, −1 SELL/SHORT). Undefined in a
   * member written before these were recorded, or for an open without a side: such a
   * reservation counts whole until it expires or its order is known not to fill.
   */
  readonly orderQty: number | undefined;
  readonly direction: 1 | -1 | undefined;
  readonly reservedAt: number;
  readonly expiresAt: number;
}

/** The reservations and the cap version as one read saw them (see readReservations). */
export interface ReservationRead {
  /** quantum:governor:{caps}:version: null when no reserving permit was ever recorded (or it lapsed). */
  readonly version: string | null;
  readonly reservations: readonly Reservation[];
  /** The reservations' key held another type: no cap can be judged (opens blocked, closes pass). */
  readonly unreadable?: UnreadableListing;
}

export function encodeReservation(r: Reservation): string {
  return JSON.stringify({
    plan_id: r.planId,
    symbol: r.symbol,
    notional: r.notional,
    slot: r.slot,
    book_qty: r.bookQty ?? null,
    book_notional: r.bookNotional,
    reserved_at: r.reservedAt,
    order_qty: r.orderQty ?? null,
    direction: r.direction ?? null,
  });
}

/** A member we cannot read counts as nothing: only the governor writes this key. */
export function parseReservation(member: string, score: string): Reservation | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(member);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  const expiresAt = parseNumber(score);
  const notional = typeof o.notional === 'number' ? o.notional : undefined;
  if (typeof o.plan_id !== 'string' || typeof o.symbol !== 'string' || notional === undefined || expiresAt === undefined) return undefined;
  return {
    planId: o.plan_id,
    symbol: o.symbol,
    notional,
    slot: o.slot === true,
    bookQty: typeof o.book_qty === 'number' ? o.book_qty : undefined,
    bookNotional: typeof o.book_notional === 'number' ? o.book_notional : 0,
    orderQty: typeof o.order_qty === 'number' && o.order_qty > 0 ? o.order_qty : undefined,
    direction: o.direction === 1 || o.direction === -1 ? o.direction : undefined,
    reservedAt: typeof o.reserved_at === 'number' ? o.reserved_at : expiresAt,
    expiresAt,
  };
}

/**
 * The cap version, then the reservations live at `now`, and those expired within the last
 * `graceMs` (they only absorb fills that show after they expired: see outstanding). Both keys share a hash slot and the version is
 * asked first on the same connection, so Redis answers them in that order: a commit landing
 * between the two reads makes the version older than the set, never newer, and a permit
 * guarding that version then fails and is decided again. A read that pairs a newer version with
 * an older set (which could miss a reservation) cannot happen.
 */
export async function readReservations(redis: RedisReader, now: number, graceMs = 0): Promise<ReservationRead> {
  const versionRead = redis.get(keys.governorCapsVersion);
  // A key of another type is that input's problem: read as none and named (Redis's states still reject).
  let unreadable: UnreadableListing | undefined;
  const membersRead = redis.zrangebyscore(keys.governorReservations, `(${now - graceMs}`, '+inf', 'WITHSCORES').catch((error: unknown) => {
    if (!refusedKey(error)) throw error;
    unreadable = { listing: 'reservations', key: keys.governorReservations, error: error.message };
    return [] as string[];
  });
  const [version, flat] = await Promise.all([versionRead, membersRead]);
  const reservations: Reservation[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const r = parseReservation(flat[i]!, flat[i + 1]!);
    if (r !== undefined) reservations.push(r);
  }
  return unreadable === undefined ? { version, reservations } : { version, reservations, unreadable };
}

/** The original's dust rule: `abs(positionAmt) > 0.0001` counts as open. */
const DUST_QTY = 0.0001;

/** Open: a quantity past dust; without one, a notional, or a position of unknown size (one whose key cannot be read). */
export function isOpenPosition(position: Position): boolean {
  return position.qty === undefined ? position.notionalUsd > 0 || position.unpriced === true : Math.abs(position.qty) > DUST_QTY;
}

/** The position's signed quantity (short < 0), 0 when absent or dust; undefined when the book gives no quantity. */
export function signedQty(position: Position | undefined): number | undefined {
  if (position === undefined) return 0;
  if (position.qty === undefined) return position.notionalUsd > 0 || position.unpriced === true ? undefined : 0;
  return Math.abs(position.qty) > DUST_QTY ? position.qty : 0;
}

/** The part of a position on the order's side: its long part for a buy, its short part for a sell. */
const onSide = (qty: number, direction: 1 | -1) => Math.max(0, direction * qty);

/**
 * What of a reservation's order the book shows, measured from its baseline: how far the symbol's
 * position grew on the order's side since the permit. A close only moves a position towards 0
 * and an order of the other side only away from this side, so neither ever shows as this
 * order's fill. Undefined when it cannot be measured (no quantity on either side, no direction).
 */
function shownSince(r: Reservation, nowQty: number | undefined): number | undefined {
  if (r.direction === undefined || r.orderQty === undefined || nowQty === undefined) return undefined;
  const baseline = r.bookQty ?? (r.bookNotional > 0 ? undefined : 0);
  if (baseline === undefined) return undefined;
  return Math.max(0, onSide(nowQty, r.direction) - onSide(baseline, r.direction));
}

/** A reservation still counted, with the part of its order the book does not show yet. */
export interface OutstandingReservation {
  readonly reservation: Reservation;
  /** Of its order's quantity, what has not shown (its whole quantity where nothing can be measured). */
  readonly remainingQty: number | undefined;
  /** Its notional pro rata to what remains. */
  readonly notional: number;
}

/**
 * The reservations the caps count (docs/governor.md "Reservations", the invariant): live ones
 * (not expired) with some of their order not yet shown in `positions`.
 *
 * Per symbol and direction, the fills the book shows are C = the largest growth on that side
 * since any live reservation's baseline: every such growth is the fill of some reservation of
 * that symbol and side (closes and the other side's orders never grow it), so C never exceeds
 * what filled. C is handed out oldest reservation first, each taking at most its order's
 * quantity; the remainder of each live one counts. Reservations expired within the grace window
 * take their share first but count nothing: a fill that shows just after its own reservation
 * expired is not mistaken for a younger order's. Which reservation a fill is booked to may be
 * wrong; the quantity that stays counted never falls below what has not filled.
 */
export function outstanding(reservations: readonly Reservation[], positions: readonly Position[], now: number): OutstandingReservation[] {
  const groups = new Map<string, Reservation[]>();
  const whole: OutstandingReservation[] = [];
  for (const r of reservations) {
    if (r.direction === undefined || r.orderQty === undefined) {
      if (r.expiresAt > now) whole.push({ reservation: r, remainingQty: r.orderQty, notional: r.notional });
      continue;
    }
    const id = `${r.symbol}\n${r.direction}`;
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [r]);
    else group.push(r);
  }
  const out: OutstandingReservation[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const nowQty = signedQty(positions.find((p) => p.symbol === first.symbol));
    let shown = 0;
    for (const r of group) {
      if (r.expiresAt <= now) continue;
      shown = Math.max(shown, shownSince(r, nowQty) ?? 0);
    }
    const ordered = [...group].sort((a, b) => a.reservedAt - b.reservedAt || (a.planId < b.planId ? -1 : a.planId > b.planId ? 1 : 0));
    for (const r of ordered) {
      const orderQty = r.orderQty!;
      const taken = Math.min(orderQty, shown);
      shown -= taken;
      const remainingQty = orderQty - taken;
      if (r.expiresAt <= now || remainingQty <= DUST_QTY) continue;
      out.push({ reservation: r, remainingQty, notional: (r.notional * remainingQty) / orderQty });
    }
  }
  return [...whole, ...out];
}

/** What the caps count beyond the book: reservations not expired, for the part of their order not yet shown in it. */
export interface ReservedExposure {
  readonly count: number;
  /** Position slots: distinct symbols of outstanding reservations with no open position in the book. */
  readonly positions: number;
  readonly notional: number;
  /** reservedAt of the oldest outstanding reservation (ms), undefined when there is none. */
  readonly oldestAt: number | undefined;
}

/** No reservation outstanding: what reservedExposure answers for none, without its sets (most plans). */
const NO_EXPOSURE: ReservedExposure = Object.freeze({ count: 0, positions: 0, notional: 0, oldestAt: undefined });

export function reservedExposure(reservations: readonly Reservation[], positions: readonly Position[], now: number): ReservedExposure {
  if (reservations.length === 0) return NO_EXPOSURE;
  const live = outstanding(reservations, positions, now);
  const openSymbols = new Set(positions.filter(isOpenPosition).map((p) => p.symbol));
  // Any order still to show can open its symbol's position again: a slot wherever the book shows none.
  const slots = new Set(live.filter((o) => !openSymbols.has(o.reservation.symbol)).map((o) => o.reservation.symbol));
  return {
    count: live.length,
    positions: slots.size,
    notional: usd(live.reduce((sum, o) => sum + o.notional, 0)),
    oldestAt: live.length === 0 ? undefined : Math.min(...live.map((o) => o.reservation.reservedAt)),
  };
}

/** The next cap version: every reserving permit bumps it by one. */
export function nextVersion(version: string | null): string {
  const n = Number(version);
  return String(version !== null && Number.isSafeInteger(n) ? n + 1 : 1);
}
