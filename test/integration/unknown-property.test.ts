import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HEAT_CAP } from '../../domain/heat.js';
import { usePrivateCommitter } from '../support/decide-once.js';
import {
  NEW_SYMBOL,
  VANISHING_WAYS,
  capsOf,
  decide,
  faultPairsOf,
  faultsOf,
  fittedAll,
  fittedVanishing,
  hiddenLeg,
  hedgedWorldsOf,
  trueBookNotional,
  trueHeat,
  trueSlots,
  worldsOf,
  type Applied,
  type Decided,
  type Message,
  type Vanishing,
  type World,
} from '../support/fault-worlds.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { AS_TRUE_WHERE_UNRELATED, INPUTS, familyName } from '../support/single-faults.js';

/**
 * Issue #70 item 5: unknown is not zero. The single-fault property's worlds widened: a held symbol
 * may be hedged (a LONG and a SHORT leg, test/support/fault-worlds.ts hedgedWorldsOf); none, one
 * or two faults at once (pairs of families, on one symbol or across symbols, faultPairsOf); and a
 * held position, reported by one to all of its producers, whose figures go after a governor
 * decision counted it (deleted, expired, the tracker stopped, left stale and flat, rewritten flat
 * by mistake, the index lost: fault-worlds.ts Vanishing). Besides the single-fault property's
 * relative checks, an absolute one: the world knows its true book, so a permitted open must fit
 * the caps on it whatever the gates' view of it was. It holds:
 *   (a) an open permitted with the faults is permitted without them;
 *   (b) a close the true world lets pass still passes, unless a fault is the kill switch's own;
 *   (c) the heat gate's heat is at least the world's true heat (both legs), or the decision names
 *       its input untrusted (fail_closed_cause), or it is HOT on the heat of the figures it trusts
 *       (heat_lower_bound);
 *   (d) every message is decided and committed within a bound;
 *   (f) an open permitted fits the true world's caps: a new symbol only into a free slot (a slot
 *       per leg past dust), its notional at the true price within the per-trade cap, and only while
 *       the true book (every leg, and the reservation) is under the total cap.
 * An open blocked by name, "unknown", counts as conservative. Worlds no rule can bound are not
 * drawn (unbounded, below, says which and why). QG_PROPERTY_RUNS (default 1000) and
 * QG_PROPERTY_SEED; QG_PROPERTY_FAULTS=0|1|2 draws only that many faults (of the families
 * QG_PROPERTY_FAMILIES names, default all), QG_PROPERTY_HEDGES=0 no legs, QG_PROPERTY_VANISHING=0 no
 * vanished position (each dimension on its own).
 */
const RUNS = Number(process.env.QG_PROPERTY_RUNS ?? 1000);
const SEED = Number(process.env.QG_PROPERTY_SEED ?? 70);
const FAULTS = process.env.QG_PROPERTY_FAULTS;
const HEDGES = process.env.QG_PROPERTY_HEDGES !== '0';
const VANISHING = process.env.QG_PROPERTY_VANISHING !== '0';
const DECIDED_WITHIN_MS = 5000;
/** The cent the gates round a notional to (handlers/governor/numbers.ts usd). */
const CENT = 0.01;
/** Between the opens' two notionals (50, 150): the per-trade cap binds on the price the gates find. */
const PER_TRADE_USD = 100;
const settings = { GOV_MAX_NOTIONAL_PER_TRADE_USDT: String(PER_TRADE_USD) };

/** Only these families (comma-separated names, `ticker_mark×future`, or inputs, `ticker_mark`): to measure some at a time. */
const ONLY = (process.env.QG_PROPERTY_FAMILIES ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '');

const faultCounts = FAULTS === undefined ? [0, 1, 2] : [Number(FAULTS)];
const faultsDrawn = fc.oneof(
  ...faultCounts.map((n) => (n === 0 ? fc.constant([]) : n === 1 ? faultsOf(ONLY).map((f) => [f]) : faultPairsOf(ONLY))),
);
const vanishingDrawn: fc.Arbitrary<Vanishing | null> = VANISHING
  ? fc.option(fc.record({ on: fc.nat(3), how: fc.constantFrom(...VANISHING_WAYS) }), { freq: 2 })
  : fc.constant(null);

/**
 * Whether a fault's row (docs/governor.md, docs/heat-gate.md: the family's expectation) blocks the
 * message whatever the figures are: an open, a row that blocks opens (a quote's refusal, only an
 * open of its symbol or while its symbol is held; a view row's, only where no tracker entry the view
 * has not applied replaces it); a proposal, a row that fails the heat gate closed. A view row's
 * fault is unread where the view's index is missing (the view's rows are read over it alone).
 */
function rowBounds(a: Applied, applied: readonly Applied[], w: World, m: Message): boolean {
  if (m.kind === 'close') return false;
  const held = w.held.find((h) => h.symbol === a.symbol);
  if (a.family.input === 'view_row') {
    if (applied.some((b) => b.family.input === 'view_index' && b.family.way === 'missing')) return false;
    // Replaced by the tracker's entries the view has not applied (the stream's word on each leg), for either gate.
    if (held?.producers.includes('tracker_entry') === true && trackerStands(a.symbol, applied)) return false;
  }
  // The heat gate counts the book's symbols only: a symbol's fault bounds it while the symbol is held.
  if (m.kind === 'proposal')
    return a.family.heat?.decision.startsWith('fails closed') === true && (a.symbol === undefined || held !== undefined);
  const row = a.family.governor?.decision ?? '';
  if (!row.startsWith('opens blocked') && !row.startsWith('every plan blocked')) return false;
  if (row.endsWith(AS_TRUE_WHERE_UNRELATED)) return held !== undefined || a.symbol === symbolOf(w, m);
  return true;
}

const symbolOf = (w: World, m: Message) => (m.on === 'new' ? NEW_SYMBOL : w.held[m.on % w.held.length]!.symbol);
const trackerStands = (symbol: string | undefined, applied: readonly Applied[]) =>
  !applied.some(
    (b) => b.family.input === 'tracker_entry' && b.symbol === symbol && ['missing', 'wrong_type', 'stale'].includes(b.family.way),
  ) && !applied.some((b) => b.family.input === 'snapshot_stream');

/**
 * Why no rule can bound the message's outcome in this world, if none can; its checks (a), (c) and
 * (f) are then not made (closes are checked in every world). Only one kind: a leg whose every figure
 * the faults make absent or smaller (hiddenLeg: in hedge mode the balance tracker's lane alone
 * reports the LONG leg, P3.3's hash one leg) while no fault's row blocks the message and no figure
 * vanished after a decision (index_lost aside: the book reads every remembered symbol's hashes
 * directly). That leg's figure is a sole producer's wrong value, which docs/governor.md "Faults
 * that compose" states no rule bounds.
 */
function unbounded(w: World, applied: readonly Applied[], vanishing: Vanishing | undefined, m: Message): string | undefined {
  if (applied.some((a) => rowBounds(a, applied, w, m))) return undefined;
  if (vanishing !== undefined && vanishing.how !== 'index_lost') return undefined;
  const hidden = hiddenLeg(w, applied);
  return hidden && `the ${hidden.leg} leg of ${hidden.symbol}: no producer reports it at its size, no row blocks the ${m.kind}`;
}

/** (f): what the true world's caps leave an open (capsOf sets them around the true book). */
function fitsTrueCaps(w: World, m: Extract<Message, { kind: 'open' }>): { slot: boolean; notional: boolean; perTrade: boolean } {
  const caps = capsOf(w);
  return {
    slot: m.on !== 'new' || trueSlots(w) + 1 <= Number(caps.GOV_MAX_OPEN_POSITIONS),
    // As the original (GOV_TOTAL_NOTIONAL_COUNTS_TRADE off, capsOf): an open only while the book is under the cap.
    notional: trueBookNotional(w) < Number(caps.GOV_MAX_TOTAL_NOTIONAL_USDT) + CENT,
    perTrade: m.notional <= PER_TRADE_USD,
  };
}

describe('unknown is not zero: hedge legs, vanished figures and two faults at once leave the caps and the heat conservative (issue #70 item 5)', () => {
  const redis = usePrivateRedis();
  const commits = usePrivateCommitter(redis);

  let unboundedSeen = 0;
  let messagesSeen = 0;
  it(`holds (a)-(d) and (f) over ${RUNS} worlds: legs, none to two faults, a vanished position (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        (HEDGES ? hedgedWorldsOf : worldsOf)(['open', 'close', 'proposal']),
        faultsDrawn,
        vanishingDrawn,
        async (drawn, faults, vanished) => {
          const fit = fittedAll(drawn, faults);
          const vanishing = vanished ?? undefined;
          const w = vanishing === undefined ? fit.world : fittedVanishing(fit.world, vanishing);
          const applied = fit.applied;
          const now = Date.now();
          const killSwitch = applied.some((a) => INPUTS[a.family.input].killSwitch === true);
          for (const m of w.messages) {
            const truth = await decide(redis.client, commits.committer, w, m, now, undefined, redis.client, { settings });
            const faulted: Decided =
              applied.length === 0 && vanishing === undefined
                ? truth
                : await decide(redis.client, commits.committer, w, m, now, applied, redis.client, { settings, vanishing });
            const story = JSON.stringify({
              faults: applied.map((a) => ({ family: familyName(a.family), symbol: a.symbol, share: a.share })),
              vanished: vanishing && { symbol: w.held[vanishing.on % w.held.length]!.symbol, how: vanishing.how },
              world: w,
              message: m,
              onSymbol: m.kind === 'open' && m.on === 'new' ? NEW_SYMBOL : undefined,
              truth: { event: truth.event, reason: truth.reason, heat: truth.heat, failClosed: truth.failClosed },
              faulted: { event: faulted.event, reason: faulted.reason, heat: faulted.heat, failClosed: faulted.failClosed },
              trueHeat: trueHeat(w),
            });
            expect(faulted.ms, `(d) decided within ${DECIDED_WITHIN_MS} ms: ${story}`).toBeLessThan(DECIDED_WITHIN_MS);
            if (m.kind === 'close' && truth.event === 'permit' && !killSwitch)
              expect(faulted.event, `(b) a close that passes without the faults passes with them: ${story}`).toBe('permit');
            messagesSeen++;
            if (unbounded(w, applied, vanishing, m) !== undefined) {
              unboundedSeen++;
              continue;
            }
            if (m.kind === 'open' && faulted.event === 'permit') {
              expect(truth.event, `(a) an open permitted with the faults is permitted without them: ${story}`).toBe('permit');
              const fits = fitsTrueCaps(w, m);
              expect(fits.slot, `(f) a new symbol only into a free slot of the true book: ${story}`).toBe(true);
              expect(fits.perTrade, `(f) within the per-trade cap at the true price: ${story}`).toBe(true);
              expect(fits.notional, `(f) only while the true book, every leg, is under the total cap: ${story}`).toBe(true);
            }
            // A heat decided HOT on the figures it trusts (heat_lower_bound) is the top bucket: conservative.
            if (m.kind === 'proposal' && faulted.failClosed === undefined && faulted.entry.heat_lower_bound === undefined)
              expect(faulted.heat!, `(c) the heat is at least the true heat (both legs), or untrusted: ${story}`).toBeGreaterThanOrEqual(
                Math.min(trueHeat(w), HEAT_CAP) * (1 - 2e-3) - 1e-4,
              );
          }
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: false },
    );
    // The worlds no rule bounds are a few of those drawn (about 1 message in 100 at the defaults), not what the property mostly draws.
    expect(unboundedSeen, `messages whose (a), (c), (f) no rule bounds, of ${messagesSeen}`).toBeLessThan(messagesSeen / 10);
  }, 600_000);

  // Found by this property (it skipped such worlds as a known gap until the rule below): the book
  // marks a listing once unreadable of unknown completeness until it is listed whole again
  // (docs/governor.md "Absence is not flat"; book-listings-unreadable.test.ts holds the rule itself).
  it('P3.3’s index unreadable while a decision reads the book, then lost with no index job and no key watch → the open is blocked positions_unreadable (was permitted at 0 of 2 slots)', async () => {
    const drawn: World = {
      held: [
        { symbol: 'H0USDT', qty: 0.5, mark: 100, sigma: 0.02, producers: ['p33_newest_hash'] },
        { symbol: 'H1USDT', qty: 0.5, mark: 100, sigma: 0.02, producers: ['p33_seed_hash'] },
      ],
      flat: 0,
      reservation: false,
      slotsFree: 0,
      totalRoom: 0,
      heat: 0.1,
      messages: [{ kind: 'open', on: 'new', notional: 50 }],
    };
    const { world, applied } = fittedAll(drawn, [{ family: 'p33_index×wrong_type', on: 'new', share: 0 }]);
    const decided = await decide(redis.client, commits.committer, world, world.messages[0]!, Date.now(), applied, redis.client, {
      settings,
      vanishing: { on: 0, how: 'index_lost' },
    });
    expect([decided.event, decided.reason]).toEqual(['block', 'positions_unreadable']);
  });
});
