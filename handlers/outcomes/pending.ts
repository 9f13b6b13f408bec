import type { EffectWriter, RedisReader } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';

/**
 * OUTCOME_MAX_PENDING as a real bound. A count read before handling and compared in the handler
 * is no bound by itself: another replica (or the other follow-up handler) may take slots between
 * the read and the commit, and one burst of 400 against a cap of 50 recorded 214. So every
 * follow-up that takes a pending slot guards, in its own commit, on the version of the pending
 * index it counted (quantum:gates:outcome:pending:version) and bumps it, as the governor's caps do
 * (issue #23): a commit that lands in between moves the version, the guard fails, and the
 * follow-up is decided again on fresh counts. The follow-ups are commitEach gates, so each reads
 * the slots the decisions before it took as committed state.
 */
export interface PendingRead {
  readonly version: string | null;
  /** Follow-ups whose last horizon is still ahead. */
  readonly pending: number;
}

/**
 * Takes a slot if fewer than `max` are pending, recording the guard and the version bump in the
 * follow-up's commit; false when the bound is reached (nothing recorded).
 */
export function claimPendingSlot(ctx: Pick<EffectWriter, 'require' | 'put'>, read: PendingRead, max: number): boolean {
  if (read.pending >= max) return false;
  ctx.require(keys.outcomePendingVersion, { is: 'holding', value: read.version });
  const n = Number(read.version);
  ctx.put(keys.outcomePendingVersion, String(read.version !== null && Number.isSafeInteger(n) ? n + 1 : 1), { ttlSec: VERSION_TTL_SEC });
  return true;
}

/** The version outlives any read-to-commit window; when it lapses the next follow-up starts at 1. */
const VERSION_TTL_SEC = 86_400;

/**
 * The follow-ups' batch state: the version, then the count, one after the other. A commit landing
 * between the two makes the version older than the count, never newer, so a follow-up guarding
 * that version fails and is decided again. (Sent together they could reach two cluster nodes in
 * either order.)
 */
export async function readPending(redis: RedisReader, now: number): Promise<PendingRead> {
  const version = await redis.get(keys.outcomePendingVersion);
  const pending = await redis.zcount(keys.outcomePending, `(${now}`, '+inf');
  return { version, pending };
}
