import { describe, expect, it } from 'vitest';
import { systemClock } from '../../runtime/engine/clock.js';
import { RedisClock, redisTimeMs } from '../../runtime/engine/redis-clock.js';

const REDIS = 1_795_000_000_000;

/** A host clock the test sets, and a Redis whose TIME answers `redisAt` after `roundTripMs` of the host's time. */
function world(hostAheadMs: number, roundTripMs = 2) {
  const w = { host: REDIS + hostAheadMs, redisAt: REDIS, offsets: [] as number[] };
  const clock = new RedisClock(
    { ...systemClock, now: () => w.host },
    () => {
      const answer = w.redisAt + roundTripMs / 2;
      w.host += roundTripMs;
      w.redisAt += roundTripMs;
      return Promise.resolve(answer);
    },
    (ahead) => w.offsets.push(ahead),
  );
  return { w, clock };
}

describe("Redis's clock as decisions read it", () => {
  it("reads Redis's TIME, not the host's, whatever the host's offset", async () => {
    for (const ahead of [200_000, -8_000, -60_000, 0]) {
      const { w, clock } = world(ahead);
      await clock.sync();
      expect(clock.now()).toBe(w.redisAt);
      expect(clock.hostAheadMs).toBe(ahead);
      expect(w.offsets).toEqual([ahead]);
      w.host += 300;
      w.redisAt += 300;
      expect(clock.now()).toBe(w.redisAt);
    }
  });

  it('moves at most 2 s past its last reading when the host clock jumps ahead, and not at all when it jumps back', async () => {
    const { w, clock } = world(0);
    await clock.sync();
    const at = clock.now();
    w.host += 200_000;
    expect(clock.now()).toBeGreaterThan(at);
    expect(clock.now()).toBeLessThanOrEqual(at + 2_000);
    w.host -= 400_000;
    expect(clock.now()).toBeLessThanOrEqual(at);
    // The next reading (each batch's, each health probe's) anchors it again.
    await clock.sync();
    expect(clock.now()).toBe(w.redisAt);
    expect(clock.hostAheadMs).toBe(-200_000);
  });

  it('says how far the readings before a TIME were off it: a batch read with a clock that far off reads again', async () => {
    const { w, clock } = world(0);
    expect(await clock.sync()).toBe(Number.POSITIVE_INFINITY);
    w.host += 300;
    w.redisAt += 300;
    expect(await clock.sync()).toBe(0);
    w.host += 1_500;
    w.redisAt += 300;
    expect(await clock.sync()).toBe(1_200);
  });

  it('takes the answer as the moment when the host clock jumps during the read', () => {
    const { clock } = world(0);
    clock.note(REDIS, REDIS, REDIS + 200_000);
    expect(clock.hostAheadMs).toBe(200_000);
    clock.note(REDIS, REDIS, REDIS - 5);
    expect(clock.hostAheadMs).toBe(-5);
  });

  it("is the host's clock until Redis first answers", () => {
    const { w, clock } = world(123);
    expect(clock.now()).toBe(w.host);
    expect(clock.hostAheadMs).toBeUndefined();
  });

  it("reads TIME's [seconds, microseconds] as whole ms", () => {
    expect(redisTimeMs(['1795000000', '123999'])).toBe(1_795_000_000_123);
  });
});
