import { describe, expect, it } from 'vitest';
import { StatusCache } from '../../app/http/status/status-cache.js';

describe('GET /status for many readers at the cost of one', () => {
  it('shares one read among the requests that arrive while it runs, and reuses it within the TTL', async () => {
    let now = 0;
    let reads = 0;
    let release: () => void = () => undefined;
    const cache = new StatusCache(
      () =>
        new Promise((resolve) => {
          reads += 1;
          release = () => resolve({ n: reads });
        }),
      1000,
      () => now,
    );
    const waiting = [cache.get(), cache.get(), cache.get()];
    release();
    expect(await Promise.all(waiting)).toEqual(['{"n":1}', '{"n":1}', '{"n":1}']);
    now = 999;
    expect(await cache.get()).toBe('{"n":1}');
    now = 1000;
    const next = cache.get();
    release();
    expect(await next).toBe('{"n":2}');
    expect(reads).toBe(2);
  });

  it('reads on every request with a TTL of 0, and a failed read is not kept', async () => {
    let reads = 0;
    const cache = new StatusCache(
      async () => {
        reads += 1;
        if (reads === 2) throw new Error('redis down');
        return { n: reads };
      },
      0,
      Date.now,
    );
    expect(await cache.get()).toBe('{"n":1}');
    await expect(cache.get()).rejects.toThrow('redis down');
    expect(await cache.get()).toBe('{"n":3}');
  });

  it('a fresh request (Cache-Control: no-cache) gets a read begun after it, within the TTL and past one under way; fresh requests share it', async () => {
    let now = 0;
    let reads = 0;
    const releases: (() => void)[] = [];
    const cache = new StatusCache(
      () =>
        new Promise((resolve) => {
          const n = ++reads;
          releases.push(() => resolve({ n }));
        }),
      1000,
      () => now,
    );
    const first = cache.get();
    releases.shift()!();
    expect(await first).toBe('{"n":1}');
    now = 10;
    // Within the TTL: a plain request gets the read it has, a fresh one a new read.
    expect(await cache.get()).toBe('{"n":1}');
    const fresh = cache.get({ fresh: true });
    expect(reads).toBe(2);
    // Arriving while read 2 is under way: a plain request still gets the read within the TTL, fresh
    // ones wait for the next read (2 began before them) and share it.
    const plain = cache.get();
    const later = [cache.get({ fresh: true }), cache.get({ fresh: true })];
    releases.shift()!();
    expect(await fresh).toBe('{"n":2}');
    expect(await plain).toBe('{"n":1}');
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toBe(3);
    releases.shift()!();
    expect(await Promise.all(later)).toEqual(['{"n":3}', '{"n":3}']);
    expect(reads).toBe(3);
  });
});
