import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../runtime/engine/clock.js';
import { RedisClock } from '../../runtime/engine/redis-clock.js';
import { usePrivateCommitter } from '../support/decide-once.js';
import * as z from 'zod';
import { positionBookEnvShape } from '../../handlers/positions/book.js';
import { decide, faultsOf, fitted, worldsOf, type Applied, type Clocks, type Decided } from '../support/fault-worlds.js';
import { startP33KeyWatch } from '../support/key-watch.js';
import { usePrivateRedis } from '../support/redis-server.js';

/**
 * Issue #69 item 3: the property's world gets clocks, and time between a write and a decision.
 * Redis's clock is the world's (every entry and figure is stamped on it, as upstream's producers
 * write beside Redis). The gates' host keeps its own: an offset from Redis's, and a jump at any of
 * its readings during the decision (a failed NTP sync, a VM resumed from a snapshot). The plan's
 * producer stamps its own timestamp, ahead of or behind Redis's. And the message arrives right
 * after the producers' writes, through the P3.3 key watch live before them, or reading every
 * listed key; after the position index's refresh, before it ever ran, or with it late (its last
 * run before the writes). Each message of a world, with one fault of the single-fault families or
 * none, is decided twice through the gates' real path (test/support/fault-worlds.ts): at Redis's
 * clock after a refresh, and as a host with those clocks and that timing decides it
 * (runtime/engine/redis-clock.ts over the host's clock, synced before the reads as the runtime
 * does). It holds:
 *   (e) the clocks and the timing change no decision, except an open blocked by name where its
 *       producer stamped it beyond GOV_PLAN_CLOCK_SKEW_SEC ahead of Redis's clock
 *       (plan_time_in_future) or beyond GOV_MAX_PLAN_AGE_SEC behind it (plan_too_old). A close is
 *       aged by its entry alone.
 * With (a)-(d) of the single-fault property over the same worlds at Redis's clock, the gates are
 * conservative under a fault and any clocks. QG_PROPERTY_RUNS (default 300) and QG_PROPERTY_SEED.
 */
const RUNS = Number(process.env.QG_PROPERTY_RUNS ?? 300);
const SEED = Number(process.env.QG_PROPERTY_SEED ?? 69);
const PLAN_CLOCK_SKEW_SEC = 5; // GOV_PLAN_CLOCK_SKEW_SEC's default
const MAX_PLAN_AGE_SEC = 300; // GOV_MAX_PLAN_AGE_SEC's default

const seconds = (...s: number[]) => s.map((x) => x * 1000);
const clocksOf = fc.record({
  hostAheadMs: fc.oneof(fc.constantFrom(...seconds(0, 1, 8, -8, 60, -60, 200, -200, 3600)), fc.integer({ min: -300_000, max: 300_000 })),
  jumpAtReading: fc.nat(40),
  jumpMs: fc.constantFrom(...seconds(0, 5, -5, 200, -200, 3600, -3600)),
  planStampAheadSec: fc.constantFrom(0, 0, 3, -30, -600, 60, 600),
  indexJob: fc.constantFrom('after' as const, 'never' as const, 'late' as const),
  watched: fc.boolean(),
});
type DrawnClocks = typeof clocksOf extends fc.Arbitrary<infer T> ? T : never;

/** A host's clock set `hostAheadMs` from Redis's (`now`), jumping by `jumpMs` at its `jumpAtReading`-th reading, and Redis's clock read through it. */
function hostDeciding(now: number, c: DrawnClocks): NonNullable<Clocks['deciding']> {
  let readings = 0;
  const host = { ...systemClock, now: () => now + c.hostAheadMs + (readings++ >= c.jumpAtReading ? c.jumpMs : 0) };
  const redis = new RedisClock(host, () => Promise.resolve(now));
  return { now: redis.now, syncClock: () => redis.sync() };
}

/** What the pipeline reads of a decision. */
const verdictOf = (d: Decided) =>
  d.gate === 'governor' ? { event: d.event, reason: d.reason } : { heat: d.heat, failClosed: d.failClosed ?? null };

describe("clocks and timing: a host's clock off Redis's, producers' stamps, and a message right after a write change no decision (issue #69 item 3)", () => {
  const redis = usePrivateRedis();
  const commits = usePrivateCommitter(redis);
  const bookConfig = z.object(positionBookEnvShape).parse({});

  it(`holds (e) over ${RUNS} worlds with clocks and timing, one fault or none (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(worldsOf(['open', 'close', 'proposal']), fc.option(faultsOf([]), { freq: 2 }), clocksOf, async (drawn, f, c) => {
        const { world: w, family, symbol } = f === null ? { world: drawn, family: undefined, symbol: undefined } : fitted(drawn, f);
        const applied: Applied | undefined = family && f ? { family, symbol, share: f.share } : undefined;
        // Whole seconds of Redis's clock: a plan's timestamp is written in seconds.
        const now = Math.floor(Date.now() / 1000) * 1000;
        for (const m of w.messages) {
          const atRedis = await decide(redis.client, commits.committer, w, m, now, applied);
          const clocked = await decide(redis.client, commits.committer, w, m, now, applied, redis.client, {
            deciding: hostDeciding(now, c),
            planStampAheadSec: c.planStampAheadSec,
            timing: {
              indexJob: c.indexJob,
              // The key watch judges on Redis's clock (the runtime gives it redis-clock.ts's reading).
              watch: c.watched ? () => startP33KeyWatch(redis.url, redis.client, bookConfig, () => now) : undefined,
            },
          });
          const story = JSON.stringify({
            clocks: c,
            fault: f,
            world: w,
            message: m,
            atRedis: verdictOf(atRedis),
            clocked: verdictOf(clocked),
          });
          const stampedBy =
            c.planStampAheadSec > PLAN_CLOCK_SKEW_SEC
              ? 'plan_time_in_future'
              : -c.planStampAheadSec > MAX_PLAN_AGE_SEC
                ? 'plan_too_old'
                : undefined;
          if (m.kind === 'open' && stampedBy !== undefined) {
            // Its time untrusted, or too old: blocked by name, unless the world blocks it already.
            expect(clocked.event, `(e) an open stamped off Redis's clock is blocked: ${story}`).toBe('block');
            if (atRedis.event === 'permit') expect(clocked.reason, `(e) by name: ${story}`).toBe(stampedBy);
          } else {
            expect(verdictOf(clocked), `(e) the clocks change no decision: ${story}`).toEqual(verdictOf(atRedis));
          }
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: false },
    );
  }, 600_000);
});
