import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import { decideWithFirstCommitHeld, type HeldCommitSession } from '../support/governor-held-commit.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';

/**
 * A batch the governor decided ahead of the previous batch's commit, when that commit fails: the
 * second batch was decided on the first batch's permits landing, and they did not (yet). Redis
 * refuses the held first commit's writes (maxmemory, noeviction) until /ready has said so; the
 * first batch is then committed again and the second with it. Every plan must be decided once,
 * as if nothing had failed, and nothing dead-lettered.
 */
describe('the governor decides ahead while Redis refuses the commit ahead (chaos)', () => {
  const redis = usePrivateRedis();
  const session: HeldCommitSession = { release: () => undefined };
  afterEach(async () => {
    session.release();
    await redis.client.config('SET', 'maxmemory', '0');
    await session.runtime?.stop();
    session.runtime = undefined;
  });

  it('the held first commit refused until /ready is 503: nine permits, each plan decided once, nothing dead-lettered', async () => {
    let refusal: Promise<number> | undefined;
    const { events, decision } = await decideWithFirstCommitHeld(redis, session, async () => {
      await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
      await redis.client.config('SET', 'maxmemory', '1');
      // Lifted only once the runtime says it cannot make progress, so the commit surely failed first.
      refusal = (async () => {
        const status = await waitFor(
          async () => {
            const ready = await session.runtime?.server.inject({ method: 'GET', url: '/ready' });
            return ready?.statusCode === 503 ? ready.statusCode : undefined;
          },
          { what: '/ready 503 while commits are refused', timeoutMs: 20_000 },
        );
        await redis.client.config('SET', 'maxmemory', '0');
        return status;
      })();
    });
    expect(await refusal).toBe(503);
    for (let i = 0; i < 12; i++) expect(decision(i)).toEqual([i < 9 ? 'permit all_gates_passed' : 'block total_notional_exceeded']);
    const seen = events.filter((e) => e.event === 'permit').map((e) => Number(e.reserved_notional));
    expect(seen).toEqual([0, 150, 300, 450, 600, 750, 900, 1050, 1200]);
    expect(await redis.client.zcard(keys.governorReservations)).toBe(9);
    expect(await redis.client.xlen(streams.deadLetter)).toBe(0);
    const metrics = (await session.runtime!.server.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/quantum_gates_commit_failures_total\{handler="governor",cause="[^"]+"\} [1-9]/);
    await waitFor(
      async () => ((await session.runtime!.server.inject({ method: 'GET', url: '/ready' })).statusCode === 200 ? true : undefined),
      {
        what: '/ready 200 again',
      },
    );
  }, 60_000);
});
