import { describe, expect, it } from 'vitest';
import { systemClock } from '../../runtime/engine/clock.js';
import { RedisClock, redisTimeMs } from '../../runtime/engine/redis-clock.js';

const REDIS = 1_795_000_000_000;

/**
 * A host the test sets: its clock (`host`, which may be set apart or stepped) and its monotonic
 * clock (`mono`, which only moves on), and a Redis whose TIME answers `redisAt` after `roundTripMs`.
 */
function world(hostAheadMs: number, roundTripMs = 2) {
  const w = { host: REDIS + hostAheadMs, mono: 0, redisAt: REDIS, offsets: [] as number[], times: 0 };
  /** Time passes: every clock moves on by `ms`. */
  const pass = (ms: number) => {
    w.host += ms;
    w.mono += ms;
    w.redisAt += ms;
  };
  const clock = new RedisClock(
    { ...systemClock, now: () => w.host, monotonic: () => w.mono },
    () => {
      w.times += 1;
      const answer = w.redisAt + roundTripMs / 2;
      pass(roundTripMs);
      return Promise.resolve(answer);
    },
    (ahead) => w.offsets.push(ahead),
  );
  return { w, clock, pass };
}

describe("Redis's clock as decisions read it", () => {
  it("reads Redis's TIME, not the host's, whatever the host's offset", async () => {
    for (const ahead of [200_000, -8_000, -60_000, 0]) {
      const { w, clock, pass } = world(ahead);
      await clock.sync();
      expect(clock.now()).toBe(w.redisAt);
      expect(clock.hostAheadMs).toBe(ahead);
      expect(w.offsets).toEqual([ahead]);
      pass(300);
      expect(clock.now()).toBe(w.redisAt);
    }
  });

  it("moves not at all when the host's clock is stepped, either way, and shows the new offset at the next TIME", async () => {
    const { w, clock, pass } = world(0);
    await clock.sync();
    w.host += 200_000;
    pass(500);
    expect(clock.now()).toBe(w.redisAt);
    w.host -= 400_000;
    pass(500);
    expect(clock.now()).toBe(w.redisAt);
    await clock.sync();
    expect(clock.now()).toBe(w.redisAt);
    expect(clock.hostAheadMs).toBe(-200_000);
  });

  it('says how far the readings before a TIME were off it: a batch read with a clock that far off reads again', async () => {
    const { w, clock, pass } = world(0);
    expect(await clock.sync()).toBe(Number.POSITIVE_INFINITY);
    pass(300);
    expect(await clock.sync()).toBe(0);
    // Redis's own clock stepped 1.2 s ahead: the next TIME says so.
    w.redisAt += 1_200;
    expect(await clock.sync()).toBe(1_200);
  });

  it('reads TIME for a batch only when none was read in the last 2 s: the health probe keeps decisions from sending one', async () => {
    const { w, clock, pass } = world(0);
    expect(await clock.syncIfStale()).toBe(Number.POSITIVE_INFINITY);
    expect(w.times).toBe(1);
    pass(1_900);
    expect(await clock.syncIfStale()).toBe(0);
    expect(w.times).toBe(1);
    expect(clock.now()).toBe(w.redisAt);
    pass(200);
    expect(await clock.syncIfStale()).toBe(0);
    expect(w.times).toBe(2);
  });

  it('reads TIME again when one was answered slowly (sent into an outage, read by Redis at its end): the next, quick one is taken', async () => {
    const w = { mono: 0, redisAt: REDIS, times: 0 };
    // The first TIME waits 3 s for a reconnect and is read by Redis as it arrives; the rest take 2 ms.
    const roundTrips = [3_000, 2];
    const clock = new RedisClock({ ...systemClock, now: () => REDIS, monotonic: () => w.mono }, () => {
      const trip = roundTrips[Math.min(w.times++, roundTrips.length - 1)]!;
      w.mono += trip;
      w.redisAt += trip;
      return Promise.resolve(trip > 100 ? w.redisAt : w.redisAt - trip / 2);
    });
    await clock.sync();
    expect(w.times).toBe(2);
    expect(clock.now()).toBe(w.redisAt);
  });

  it('takes the last of three slow answers rather than none: a Redis slow at every TIME still gives the gates its clock', async () => {
    const w = { mono: 0, times: 0 };
    const clock = new RedisClock({ ...systemClock, now: () => 0, monotonic: () => w.mono }, () => {
      w.times += 1;
      w.mono += 400;
      return Promise.resolve(REDIS + w.mono - 200);
    });
    await clock.sync();
    expect(w.times).toBe(3);
    expect(clock.now()).toBe(REDIS + w.mono);
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
