import { isRedisStateRefusal, redisFailureCause, type RedisReader } from '../../runtime/contract/index.js';

/**
 * Whether Redis may evict the governor's keys, as each decision reads it (issue #59 item 3).
 *
 * Under any maxmemory-policy but `noeviction`, Redis drops keys once memory fills: the
 * reservations (a cap counts fewer positions than are filling), the permitted-markers (a plan sent
 * again is permitted again), permits and dead letters. Measured on 6d8b18a: `CONFIG SET
 * maxmemory-policy volatile-ttl` after start, 3,287 keys evicted, 11 positions for a cap of 10.
 * So while Redis may evict, no open is permitted (`redis_may_evict`); closes pass as under
 * auto-disarm (they never take a reservation, and holding an exit is the costlier error).
 *
 * Read with the plan's own batch state (snapshot.ts loadPlanState), in the same round of reads:
 * every plan whose state is read after `CONFIG SET` returned is blocked, with no probe period
 * between. The runtime's health probe (runtime/host/redis-health.ts) reads the same policy every
 * second for /ready, and its cached value was the other choice: it would leave up to a probe
 * period of permits after the change, and it is no read of the decision's own (a rehearsal of
 * the decision's tape could not answer it). `INFO memory` is also readable where `CONFIG GET` is
 * not (an ACL user without CONFIG).
 */
export type EvictionState =
  | { readonly kind: 'noeviction' }
  /** `policy`: the policy read (volatile-ttl, allkeys-lru, …), or why none could be read. */
  | { readonly kind: 'may_evict'; readonly policy: string };

const NO_EVICTION: EvictionState = { kind: 'noeviction' };

/**
 * The state of one or several nodes' `INFO memory` (on a cluster the runtime's connection answers
 * with every master's, one after another): `noeviction` only when every `maxmemory_policy` line
 * says so and there is at least one. A section without the line (a proxy, a Redis-like server that
 * does not report it) cannot confirm that nothing is evicted.
 */
export function evictionOf(info: string): EvictionState {
  const policies = [...info.matchAll(/^maxmemory_policy:(.*)$/gm)].map((m) => m[1]!.trim());
  if (policies.length === 0) return { kind: 'may_evict', policy: 'unknown (INFO memory names no maxmemory_policy)' };
  const evicting = policies.find((p) => p !== 'noeviction');
  return evicting === undefined ? NO_EVICTION : { kind: 'may_evict', policy: evicting };
}

/**
 * Redis's own state, held and retried like any read it did not answer (the plan stays pending):
 * loading, busy with a script, a cluster or master that is down for the moment.
 */

/**
 * INFO memory, read. A refusal Redis answered (NOPERM: an ACL without INFO; ERR unknown command:
 * INFO renamed away) means noeviction cannot be confirmed: opens are blocked, closes pass, and the
 * policy names the refusal. Anything else (a lost connection, a timeout, LOADING, a rehearsal's
 * read its tape never saw) is thrown, as every other read of the plan's state: no plan is decided
 * on it.
 */
export async function readEviction(redis: Pick<RedisReader, 'info'>): Promise<EvictionState> {
  try {
    return evictionOf(await redis.info('memory'));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Redis's state (no answer, a failover, a load) holds the plan as any read does; an ACL without
    // INFO is a deployment's lasting choice, so it blocks opens rather than holding every close.
    if (!/^[A-Z][A-Z_]+\b/.test(message) || (isRedisStateRefusal(error) && redisFailureCause(error) !== 'noperm')) throw error;
    return { kind: 'may_evict', policy: `unreadable (INFO memory refused: ${message.split('\n')[0]!.slice(0, 200)})` };
  }
}

/** The one line status and the decision's event use: why opens are blocked. */
export function evictionText(policy: string): string {
  return `Redis may evict keys (maxmemory-policy ${policy}): the governor blocks every open until it is noeviction`;
}
