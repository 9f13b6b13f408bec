import { describe, expect, it } from 'vitest';
import { loadPositionBook } from '../../handlers/positions/book.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import { keys, streams } from '../../schemas/keys.js';
import { BOOK_CONFIG } from '../support/book-producers.js';
import { startP33KeyWatch } from '../support/key-watch.js';
import { usePrivateRedis } from '../support/redis-server.js';

const config = BOOK_CONFIG;
const NOW = 1_800_000_000_000;
const STEPS = ['xinfo', 'xpending', 'xrevrange', 'get', 'smembers'] as const;
/** Through the key watch the view's index is read (or kept) in one cachedReads call with the memory, its first. */
const WATCHED_STEP: Readonly<Record<string, string>> = { smembers: 'cachedReads' };

/**
 * The book is read in several rounds, not one moment (handlers/positions/book.ts loadPositionBook):
 * a snapshot the position-snapshot gate applies between any two of them is counted, from the
 * stream or from the view, never from neither. The gate's apply (its commit: the view's row and
 * index, the applied id, the entry acknowledged, in one transaction) is made to land right after
 * each step of the listing in turn.
 */
describe('the book’s listing order: a snapshot applied between its reads counts', () => {
  const redis = usePrivateRedis();

  it.each(STEPS.flatMap((step) => [[step, 'plain'] as const, [step, 'through the key watch'] as const]))(
    'applied right after %s (%s)',
    async (step, path) => {
      const r = redis.client;
      await r.flushall();
      await r.xgroup('CREATE', streams.positionSnapshot, 'position_snapshot', '$', 'MKSTREAM');
      const id = await r.xadd(streams.positionSnapshot, '*', 'symbol', 'AUSDT', 'position_notional_usd', '500', 'sigma', '0.02');
      // Delivered to the position-snapshot gate, not yet applied: pending.
      await r.xreadgroup('GROUP', 'position_snapshot', 'snapshotter', 'COUNT', 1, 'STREAMS', streams.positionSnapshot, '>');
      let applied = false;
      const apply = async () => {
        if (applied) return;
        applied = true;
        await r
          .multi()
          .hset(keys.position('AUSDT'), { position_notional_usd: '500', sigma: '0.02', updated_at: String(NOW) })
          .sadd(keys.activePositions, 'AUSDT')
          .set(keys.positionAppliedId('AUSDT'), id!)
          .xack(streams.positionSnapshot, 'position_snapshot', id!)
          .exec();
      };
      const watch = path === 'plain' ? undefined : await startP33KeyWatch(redis.url, r, config, () => NOW);
      try {
        const base = (watch?.reader ?? r) as RedisReader;
        // Every call of `step` lands the apply right after Redis answered it, before the book's next read.
        const reader = new Proxy(base, {
          get(target, property, receiver) {
            const value: unknown = Reflect.get(target, property, receiver);
            if (typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              const reply: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
              if (property === (watch === undefined ? step : (WATCHED_STEP[step] ?? step))) await apply();
              return reply;
            };
          },
        });
        const { book } = await loadPositionBook(reader, config, { now: NOW });
        expect(applied, `${step} was read`).toBe(true);
        expect(book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 500]]);
      } finally {
        await watch?.stop();
      }
    },
  );
});
