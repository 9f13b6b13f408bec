import { afterEach, describe, expect, it } from 'vitest';
import { keys } from '../../schemas/keys.js';
import { decideWithFirstCommitHeld, type HeldCommitSession } from '../support/governor-held-commit.js';
import { usePrivateRedis } from '../support/redis-server.js';

/**
 * The governor decides a batch while the batch before it commits (batch.decidesAhead): the
 * batch ahead's permits are laid over what the next batch reads, and what it decides on them
 * guards on the versions they were to write. Here the first batch's commit is held until the
 * second batch is decided, so the second batch's reads surely predate the first commit
 * (test/support/governor-held-commit.ts).
 */

describe('the governor decides the next batch while the previous one commits', () => {
  const redis = usePrivateRedis();
  const session: HeldCommitSession = { release: () => undefined };
  afterEach(async () => {
    session.release(); // a failed test must not leave the runtime's stop waiting on a held commit
    await session.runtime?.stop();
    session.runtime = undefined;
  });

  it('decided on the first batch’s permits before they landed: nine permits, each counting those before it, nothing decided again', async () => {
    const { events, conflicts, aheadOf, decision } = await decideWithFirstCommitHeld(redis, session);
    // The second batch's state was loaded with the first batch's, whose commit was held.
    expect(aheadOf.slice(0, 2)).toEqual([false, true]);
    for (let i = 0; i < 12; i++) expect(decision(i)).toEqual([i < 9 ? 'permit all_gates_passed' : 'block total_notional_exceeded']);
    // Every permit's event shows the reservations its decision counted: the first batch's five
    // in the second batch's too, though they had not landed when it read.
    const seen = events.filter((e) => e.event === 'permit').map((e) => Number(e.reserved_notional));
    expect(seen).toEqual([0, 150, 300, 450, 600, 750, 900, 1050, 1200]);
    expect(await redis.client.zcard(keys.governorReservations)).toBe(9);
    expect(conflicts).toBe(0);
  });

  it('when the first batch does not land as decided, what the second decided on it is decided again, blocks included', async () => {
    // While the first commit is held, the first batch's symbols go into a cooldown another
    // replica started: its five permits fail their symbol guard and are decided again (blocked).
    // The second batch counted those five reservations: its ninth open was blocked on them, and
    // that block must not stand (the cap has room for every later open now).
    const { events, conflicts, decision } = await decideWithFirstCommitHeld(redis, session, async () => {
      for (let i = 0; i < 5; i++) {
        await redis.client.set(keys.governorLastExec(`NEW${i}USDT`), String(Date.now() / 1000));
        await redis.client.incr(keys.governorSymbolVersion(`NEW${i}USDT`));
      }
    });
    for (let i = 0; i < 5; i++) expect(decision(i)).toEqual(['block symbol_cooldown']);
    for (let i = 5; i < 12; i++) expect(decision(i)).toEqual(['permit all_gates_passed']);
    const seen = events.filter((e) => e.event === 'permit').map((e) => Number(e.reserved_notional));
    expect(seen).toEqual([0, 150, 300, 450, 600, 750, 900]);
    // The first batch's five and the second batch's five decided on them; the third, when it
    // was decided ahead of the second batch's first commit, on what that one was to write.
    expect(conflicts).toBeGreaterThanOrEqual(10);
    expect(conflicts).toBeLessThanOrEqual(12);
  });
});
