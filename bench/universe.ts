import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { keys } from '../schemas/keys.js';
import { P33_NEWEST_TTL_SEC, P33_SEED_TTL_SEC, p33NewestHash, p33SeedHash, universeJson } from '../test/support/book-producers.js';

/** The universe's symbols: none of them held, none a symbol the bench's proposals or plans name. */
export const flatSymbols = (count: number): string[] => Array.from({ length: count }, (_, i) => `FLAT${i}USDT`);

/**
 * A universe of `count` symbols P3.3 (the Position Ledger) follows and holds nothing of, written as
 * it writes them: every allowlisted symbol's hash under both key layouts (the seed era's
 * quantum:position:snapshot:{symbol}, the newest quantum:state:positions:{symbol}) with
 * position_amt 0, and the universe key it reads its symbols from (upstream newest). The position
 * index finds them through that key at its first refresh.
 */
export async function writeFlatUniverse(redis: Redis, count: number, nowSec: number, mark = 10): Promise<string[]> {
  const symbols = flatSymbols(count);
  for (let i = 0; i < count; i += 500) {
    const pipeline = redis.pipeline();
    for (const symbol of symbols.slice(i, i + 500)) {
      pipeline.hset(keys.p33PositionSnapshot(symbol), p33SeedHash(0, mark, nowSec));
      pipeline.expire(keys.p33PositionSnapshot(symbol), P33_SEED_TTL_SEC);
      pipeline.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, 0, mark, nowSec));
      pipeline.expire(keys.p33StatePositions(symbol), P33_NEWEST_TTL_SEC);
    }
    await pipeline.exec();
  }
  await redis.set(keys.universeActive, universeJson(symbols, nowSec));
  return symbols;
}

/** Waits until the position index (quantum:gates:positions:p33_symbols) lists every one of `symbols`. */
export async function untilIndexed(redis: Redis, symbols: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = await redis.smismember(keys.p33PositionIndex, ...symbols);
    const missing = listed.filter((n) => n !== 1).length;
    if (missing === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `the position index (${keys.p33PositionIndex}) lacks ${missing} of the universe's ${symbols.length} symbols after ${timeoutMs} ms`,
      );
    await sleep(200);
  }
}
