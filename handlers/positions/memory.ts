import { keys } from '../../schemas/keys.js';
import { heldKey, parseHeldKey, UNKNOWN_LANE, type HeldLeg, type HeldMemory, type Leg, type ListingMark } from './fold.js';

export { UNKNOWN_LANE };

/**
 * The position book's memory in Redis (keys.positionsHeld): what it knew was held, per symbol and
 * leg, and which producers' lanes said so. The book reads it with its figures (loadPositionBook) and
 * the fold (fold.ts) decides from it; nothing else reads it but the status and the CLI.
 *
 * Who writes it: the governor's decisions, in their own commit (no round trip of their own: the read
 * is the book's, the write in the commit the decision makes anyway). A figure matters to
 * the caps only when a decision reads it, and every decision reads the whole book, so a position
 * held while any plan is decided is remembered by that decision; the heat gate and the budget engine
 * read the same memory but leave writing it to the governor (their commits are not per decision).
 * The position index job does not write it: it runs on a schedule (and may not run at all), while the
 * memory must hold what the last decision counted. A position opened and vanished with no decision
 * in between was never counted by anyone, so there is nothing to remember.
 */

/**
 * A memory field's value: JSON {"by": [lanes], "at": ms}, "silent": [lanes] while it is of unknown
 * size, and "unread": true while it is remembered from refused words alone.
 */
export function encodeHeld(held: HeldLeg): string {
  return JSON.stringify({
    by: held.by,
    at: held.atMs,
    ...(held.silent === undefined ? {} : { silent: held.silent }),
    ...(held.unread === true ? { unread: true } : {}),
  });
}

/**
 * A memory field's value as the fold reads it. A value this cannot read (hand-edited, another
 * version's) is still a leg that was held: by a lane of no producer (`?`), so it is of unknown size
 * until a fresh flat report or an operator clears it, never forgotten.
 */
export function decodeHeld(value: string): HeldLeg {
  try {
    const parsed = JSON.parse(value) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const { by, at, silent, unread } = parsed as { by?: unknown; at?: unknown; silent?: unknown; unread?: unknown };
      const lanes = (v: unknown): v is string[] => Array.isArray(v) && v.every((lane) => typeof lane === 'string');
      if (lanes(by) && typeof at === 'number' && Number.isFinite(at))
        return { by, atMs: at, ...(lanes(silent) ? { silent } : {}), ...(unread === true ? { unread: true as const } : {}) };
    }
  } catch {
    // Falls through: unreadable is held by nobody known.
  }
  return { by: [UNKNOWN_LANE], atMs: 0 };
}

/** The memory as HGETALL gives it (field, value, …): the fields of a leg, each decoded. */
export function heldMemoryOf(flat: readonly string[]): Map<string, HeldLeg> {
  const held = new Map<string, HeldLeg>();
  // An empty value is a leg forgotten (the commit writes no field delete: rememberHeld in the governor).
  for (let i = 0; i + 1 < flat.length; i += 2)
    if (parseHeldKey(flat[i]!) !== undefined && flat[i + 1] !== '') held.set(flat[i]!, decodeHeld(flat[i + 1]!));
  return held;
}

/**
 * The memory's fields of the mark on P3.3's listing (fold.ts ListingMark), each a time in ms of Redis's
 * clock: `listing:p33:unreadable` written by the decisions, `listing:p33:refreshed` by the position
 * index job. Neither is a `SYMBOL:LEG` field, so every reader of legs (parseHeldKey, heldMemoryOf,
 * 1.6.0's, 1.7.0's and 1.8.0's alike) passes them by.
 */
export const P33_UNREADABLE_FIELD = 'listing:p33:unreadable';
export const P33_REFRESHED_FIELD = 'listing:p33:refreshed';

/** A mark field's time; anything but a plain positive number of ms reads as none. */
function markTime(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,16}$/.test(value)) return undefined;
  const ms = Number(value);
  return ms > 0 ? ms : undefined;
}

/**
 * The mark as HGETALL gives the memory (field, value, …). A sighting that cannot be read (hand-edited)
 * still marks the listing: at 0, so any refresh of the index job after it clears it.
 */
export function listingMarkOf(flat: readonly string[]): ListingMark {
  let unreadable: string | undefined;
  let refreshed: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === P33_UNREADABLE_FIELD && flat[i + 1] !== '') unreadable = flat[i + 1];
    if (flat[i] === P33_REFRESHED_FIELD && flat[i + 1] !== '') refreshed = flat[i + 1];
  }
  const refreshedAtMs = markTime(refreshed);
  return {
    ...(unreadable === undefined ? {} : { unreadableAtMs: markTime(unreadable) ?? 0 }),
    ...(refreshedAtMs === undefined ? {} : { refreshedAtMs }),
  };
}

/** What a commit writes so the memory becomes `after`: fields to set (changed or new), fields to delete. */
export interface MemoryWrites {
  readonly set: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

/**
 * The writes that turn `before` (as read) into `after` (as folded); none when they hold the same.
 * A leg's time is that of its first figure, kept as read, so a decision writes only when a leg is
 * new, forgotten, or reported by other lanes (or silent ones): not at every figure.
 */
export function memoryWrites(
  before: HeldMemory,
  after: HeldMemory,
  mark: { readonly before: ListingMark; readonly after: ListingMark } = { before: {}, after: {} },
): MemoryWrites {
  const set: Record<string, string> = {};
  for (const [key, held] of after) {
    const was = before.get(key);
    if (was === undefined || !sameHeld(was, held)) set[key] = encodeHeld(held);
  }
  const remove = [...before.keys()].filter((key) => !after.has(key));
  // The decisions write the sighting; they only ever forget the job's refresh, with the mark it cleared.
  const [was, is] = [mark.before.unreadableAtMs, mark.after.unreadableAtMs];
  if (is !== undefined && is !== was) set[P33_UNREADABLE_FIELD] = String(is);
  if (is === undefined && was !== undefined) remove.push(P33_UNREADABLE_FIELD);
  if (mark.after.refreshedAtMs === undefined && mark.before.refreshedAtMs !== undefined) remove.push(P33_REFRESHED_FIELD);
  // Written empty (no memory); a field already empty is not in `before`, so it is not written again.
  return { set, remove };
}

/** Whether two legs encode alike (encodeHeld), compared field by field: a book of 1,000 legs encoded twice a decision was ~2 % of its CPU. */
function sameHeld(a: HeldLeg, b: HeldLeg): boolean {
  const sameLanes = (x: readonly string[] | undefined, y: readonly string[] | undefined) =>
    x === y || (x !== undefined && y !== undefined && x.length === y.length && x.every((lane, i) => lane === y[i]));
  return a.atMs === b.atMs && (a.unread === true) === (b.unread === true) && sameLanes(a.by, b.by) && sameLanes(a.silent, b.silent);
}

/** The memory fields an operator's `positions clear SYMBOL[:SIDE]` removes. */
export function clearedFields(symbol: string, leg: Leg | undefined): string[] {
  return (leg === undefined ? (['LONG', 'SHORT'] as const) : [leg]).map((l) => heldKey(symbol, l));
}

export const HELD_KEY = keys.positionsHeld;
