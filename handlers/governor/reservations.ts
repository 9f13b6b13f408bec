import type { RedisReader } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { parseNumber, usd } from './numbers.js';
import type { Position } from './positions.js';

/**
 * A permitted open counted as exposure until its position shows (issue #23). Kept as the member
 * of the quantum:governor:{caps}:reservations sorted set (JSON), scored by its expiry in ms.
 */
export interface Reservation {
  readonly planId: string;
  readonly symbol: string;
  /** The open's priced notional (|qty| × mark) at decision time. */
  readonly notional: number;
  /** Whether it takes a position slot: its symbol had no open position when it was permitted. */
  readonly slot: boolean;
  /** The symbol's position in the book at decision time (qty, else notional): it shows once that moves. */
  readonly bookQty: number | undefined;
  readonly bookNotional: number;
  readonly reservedAt: number;
  readonly expiresAt: number;
}

/** The reservations and the cap version as one read saw them (see readReservations). */
export interface ReservationRead {
  /** quantum:governor:{caps}:version: null when no reserving permit was ever recorded (or it lapsed). */
  readonly version: string | null;
  readonly reservations: readonly Reservation[];
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
    reservedAt: typeof o.reserved_at === 'number' ? o.reserved_at : expiresAt,
    expiresAt,
  };
}

/**
 * The cap version, then the live reservations. Both keys share a hash slot and the version is
 * asked first on the same connection, so Redis answers them in that order: a commit landing
 * between the two reads makes the version older than the set, never newer, and a permit
 * guarding that version then fails and is decided again. A read that pairs a newer version with
 * an older set (which could miss a reservation) cannot happen.
 */
export async function readReservations(redis: RedisReader, now: number): Promise<ReservationRead> {
  const versionRead = redis.get(keys.governorCapsVersion);
  const membersRead = redis.zrangebyscore(keys.governorReservations, `(${now}`, '+inf', 'WITHSCORES');
  const [version, flat] = await Promise.all([versionRead, membersRead]);
  const reservations: Reservation[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const r = parseReservation(flat[i]!, flat[i + 1]!);
    if (r !== undefined) reservations.push(r);
  }
  return { version, reservations };
}

/** The original's dust rule: `abs(positionAmt) > 0.0001` counts as open. */
const DUST_QTY = 0.0001;

export function isOpenPosition(position: Position): boolean {
  return position.qty === undefined ? position.notionalUsd > 0 : Math.abs(position.qty) > DUST_QTY;
}

/**
 * Whether the book the decision reads shows the reservation's position: the symbol's position
 * moved from what it was when the open was permitted (it appeared, or its quantity changed).
 * Judged against the very view the decision counts, so a position is never counted both as a
 * reservation and in the book, nor in neither. A quantity is compared when both sides have one;
 * a notional otherwise (it moves with the mark, so a move releases early only where no qty is known).
 */
export function shownInBook(r: Reservation, positions: readonly Position[]): boolean {
  const own = positions.find((p) => p.symbol === r.symbol);
  if (own === undefined || !isOpenPosition(own)) return false;
  if (r.slot) return true;
  if (own.qty !== undefined && r.bookQty !== undefined) return Math.abs(Math.abs(own.qty) - Math.abs(r.bookQty)) > DUST_QTY;
  return Math.abs(own.notionalUsd - r.bookNotional) > 0.01;
}

/** What the caps count beyond the book: reservations not expired and not yet shown in it. */
export interface ReservedExposure {
  readonly count: number;
  /** Position slots: distinct symbols of outstanding reservations with no open position in the book. */
  readonly positions: number;
  readonly notional: number;
  /** reservedAt of the oldest outstanding reservation (ms), undefined when there is none. */
  readonly oldestAt: number | undefined;
}

export function outstanding(reservations: readonly Reservation[], positions: readonly Position[], now: number): Reservation[] {
  return reservations.filter((r) => r.expiresAt > now && !shownInBook(r, positions));
}

/** No reservation outstanding: what reservedExposure answers for none, without its sets (most plans). */
const NO_EXPOSURE: ReservedExposure = Object.freeze({ count: 0, positions: 0, notional: 0, oldestAt: undefined });

export function reservedExposure(reservations: readonly Reservation[], positions: readonly Position[], now: number): ReservedExposure {
  if (reservations.length === 0) return NO_EXPOSURE;
  const live = outstanding(reservations, positions, now);
  const openSymbols = new Set(positions.filter(isOpenPosition).map((p) => p.symbol));
  const slots = new Set(live.filter((r) => r.slot && !openSymbols.has(r.symbol)).map((r) => r.symbol));
  return {
    count: live.length,
    positions: slots.size,
    notional: usd(live.reduce((sum, r) => sum + r.notional, 0)),
    oldestAt: live.length === 0 ? undefined : Math.min(...live.map((r) => r.reservedAt)),
  };
}

/** The next cap version: every reserving permit bumps it by one. */
export function nextVersion(version: string | null): string {
  const n = Number(version);
  return String(version !== null && Number.isSafeInteger(n) ? n + 1 : 1);
}
