import type { EffectWriter, RedisReader } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';

/**
 * OUTCOME_MAX_PENDING as a real bound. A count read before handling and compared in the handler
 * is no bound: every decision of a batch (and of another replica's batch) read the same count,
 * and one burst of 400 against a cap of 50 recorded 214. Here every follow-up that takes a
 * pending slot guards, in its own commit, on the version of the pending index it counted
 * (quantum:gates:outcome:pending:version) and bumps it, as the governor's caps do (issue #23):
 * - in a batch, decisions are handled in batch order and each counts the slots the earlier ones
 *   took; the version each guards on is the one the decision before it sets, which the commit
 *   checks at its turn (a chained guard), so a batch commits in one transaction;
 * - across batches, replicas and the two follow-up handlers, a commit that lands between a
 *   batch's read and its commit moves the version: that batch's follow-ups fail their guard and
 *   are decided again on fresh counts.
 * One ledger per batch (and per re-run), kept in the batch state.
 */
export class PendingSlots {
  private version: string | null;
  private taken: number;

  constructor(read: PendingRead) {
    this.version = read.version;
    this.taken = read.pending;
  }

  /** Follow-ups pending as this decision's turn sees them: the read's and the batch's before it. */
  get pending(): number {
    return this.taken;
  }

  /**
   * Takes a slot if fewer than `max` are pending, recording the guard and the version bump in
   * the follow-up's commit; false when the bound is reached (nothing recorded).
   */
  claim(ctx: Pick<EffectWriter, 'require' | 'put'>, max: number): boolean {
    if (this.taken >= max) return false;
    ctx.require(keys.outcomePendingVersion, { is: 'holding', value: this.version });
    const n = Number(this.version);
    const next = String(this.version !== null && Number.isSafeInteger(n) ? n + 1 : 1);
    ctx.put(keys.outcomePendingVersion, next, { ttlSec: VERSION_TTL_SEC });
    this.version = next;
    this.taken += 1;
    return true;
  }
}

/** The version outlives any read-to-commit window; when it lapses the next follow-up starts at 1. */
const VERSION_TTL_SEC = 86_400;

export interface PendingRead {
  readonly version: string | null;
  /** Follow-ups whose last horizon is still ahead. */
  readonly pending: number;
}

/**
 * The version, then the count, one after the other: a commit landing between the two makes the
 * version older than the count, never newer, so a follow-up guarding that version fails and is
 * decided again. (Sent together they could reach two cluster nodes in either order.)
 */
export async function readPending(redis: RedisReader, now: number): Promise<PendingRead> {
  const version = await redis.get(keys.outcomePendingVersion);
  const pending = await redis.zcount(keys.outcomePending, `(${now}`, '+inf');
  return { version, pending };
}

/** The follow-up handlers' batch state. */
export async function loadPendingSlots(redis: RedisReader, now: number): Promise<PendingSlots> {
  return new PendingSlots(await readPending(redis, now));
}
