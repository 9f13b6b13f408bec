import { describe, expect, it } from 'vitest';
import { P33_HELD_CURRENT } from '../../handlers/positions/book.js';
import { positionIndex } from '../../handlers/positions/index-job.js';
import { keys } from '../../schemas/keys.js';
import { p33NewestHash, p33SeedHash } from '../support/book-producers.js';
import { runHandler, withoutJobDone } from '../support/fake-ctx.js';

const NOW = 1_800_000_000_000;
const FRESH_SEC = (NOW - 2_000) / 1000;

/**
 * Issue #62 item 1: the position index keeps, beside P3.3's index, the held index the book reads:
 * the symbols whose hashes say anything but a sound flat figure at the refresh's clock, and the
 * watched ones, with the member that says until when the list stands.
 */
describe('the position index keeps the held index', () => {
  const refresh = (hashes: Record<string, Record<string, string>>, extra: Parameters<typeof runHandler>[2] = {}) =>
    runHandler(
      positionIndex,
      {},
      {
        now: NOW,
        env: { POSITION_INDEX_SCAN_STEPS: '0', POSITION_P33_SYMBOLS: 'HELDUSDT,FLATUSDT,AHEADUSDT,JUNKUSDT,BOTHUSDT,SIGMAUSDT' },
        ...extra,
        redis: { ...extra.redis, hashes: { ...extra.redis?.hashes, ...hashes } },
      },
    );
  const heldOf = (run: Awaited<ReturnType<typeof refresh>>) =>
    withoutJobDone(run.recorder.effects).flatMap((e) =>
      e.op === 'addToSortedSet' && e.key === keys.p33HeldIndex ? [[e.member, e.score]] : [],
    );

  it('lists what is held, unpriced or doubtful, and leaves out sound flat figures', async () => {
    const run = await refresh({
      [keys.p33StatePositions('HELDUSDT')]: p33NewestHash('HELDUSDT', 0.5, 100, FRESH_SEC),
      [keys.p33StatePositions('FLATUSDT')]: p33NewestHash('FLATUSDT', 0, 100, FRESH_SEC),
      [keys.p33PositionSnapshot('FLATUSDT')]: p33SeedHash(0, 100, FRESH_SEC),
      // Flat, but stamped a minute ahead: no figure the book can trust, so it reads it.
      [keys.p33StatePositions('AHEADUSDT')]: p33NewestHash('AHEADUSDT', 0, 100, FRESH_SEC + 60),
      [keys.p33StatePositions('JUNKUSDT')]: { ...p33NewestHash('JUNKUSDT', 0, 100, FRESH_SEC), position_amt: 'abc' },
      // Flat in one layout, held in the other.
      [keys.p33PositionSnapshot('BOTHUSDT')]: p33SeedHash(0, 100, FRESH_SEC),
      [keys.p33StatePositions('BOTHUSDT')]: p33NewestHash('BOTHUSDT', -2, 100, FRESH_SEC),
      // A sigma on a flat hash still sizes another producer's position of the symbol.
      [keys.p33StatePositions('SIGMAUSDT')]: { ...p33NewestHash('SIGMAUSDT', 0, 100, FRESH_SEC), sigma: '0.3' },
    });
    const held = heldOf(run);
    expect(held.filter(([m]) => m !== P33_HELD_CURRENT).map(([m]) => m)).toEqual([
      'HELDUSDT',
      'AHEADUSDT',
      'JUNKUSDT',
      'BOTHUSDT',
      'SIGMAUSDT',
    ]);
    expect(held.filter(([m]) => m !== P33_HELD_CURRENT).every(([, score]) => score === NOW)).toBe(true);
    // The list stands three refreshes (5 s each): then the book reads every hash again.
    expect(held).toContainEqual([P33_HELD_CURRENT, NOW + 15_000]);
    // What was held before and is not now goes by score, never the key replaced (a permit's member stays).
    expect(withoutJobDone(run.recorder.effects)).toContainEqual({ op: 'trimSortedSet', key: keys.p33HeldIndex, maxScore: NOW - 1 });
    expect(withoutJobDone(run.recorder.effects).filter((e) => e.op === 'deleteKey' && e.key === keys.p33HeldIndex)).toEqual([]);
    // P3.3's index lists every hash, flat ones too (the book reads them all when the held index lapses).
    const indexed = withoutJobDone(run.recorder.effects).flatMap((e) =>
      e.op === 'addToSet' && e.key === keys.p33PositionIndex ? [e.member] : [],
    );
    expect(indexed.sort()).toEqual(['AHEADUSDT', 'BOTHUSDT', 'FLATUSDT', 'HELDUSDT', 'JUNKUSDT', 'SIGMAUSDT']);
  });

  it('lists a key of another type under P3.3’s prefix for a symbol P3.3 is configured with, not for one only the sweep met', async () => {
    const run = await refresh({}, { redis: { strings: { [keys.p33StatePositions('HELDUSDT')]: 'not a hash' } } });
    expect(heldOf(run).map(([m]) => m)).toEqual(['HELDUSDT', P33_HELD_CURRENT]);
    const stray = await runHandler(
      positionIndex,
      {},
      { now: NOW, env: { POSITION_INDEX_SCAN_STEPS: '0' }, redis: { strings: { [keys.p33StatePositions('STRAYUSDT')]: 'not a hash' } } },
    );
    expect(heldOf(stray).map(([m]) => m)).toEqual([P33_HELD_CURRENT]);
  });

  it('keeps a watched symbol held, its hash flat or absent, until its watch ends', async () => {
    const run = await refresh(
      { [keys.p33StatePositions('FLATUSDT')]: p33NewestHash('FLATUSDT', 0, 100, FRESH_SEC) },
      { redis: { sortedSets: { [keys.p33Watch]: { FLATUSDT: NOW + 60_000, NEWUSDT: NOW + 60_000, GONEUSDT: NOW - 1 } } } },
    );
    expect(heldOf(run).map(([m]) => m)).toEqual(['FLATUSDT', 'NEWUSDT', P33_HELD_CURRENT]);
  });

  it('replaces a held index of another type, which is wholly its own', async () => {
    const run = await refresh(
      { [keys.p33StatePositions('HELDUSDT')]: p33NewestHash('HELDUSDT', 1, 100, FRESH_SEC) },
      { redis: { strings: { [keys.p33HeldIndex]: 'not-a-zset' } } },
    );
    const effects = withoutJobDone(run.recorder.effects);
    const deleted = effects.findIndex((e) => e.op === 'deleteKey' && e.key === keys.p33HeldIndex);
    const added = effects.findIndex((e) => e.op === 'addToSortedSet' && e.key === keys.p33HeldIndex);
    expect(deleted).toBeGreaterThanOrEqual(0);
    expect(deleted).toBeLessThan(added);
  });

  it('takes a symbol whose row expired out of our view index, guarded on the row still being absent', async () => {
    const run = await refresh(
      {},
      {
        redis: {
          sets: { [keys.activePositions]: ['LIVEUSDT', 'GONEUSDT'] },
          hashes: { [keys.position('LIVEUSDT')]: { position_notional_usd: '100', updated_at: String(NOW) } },
        },
      },
    );
    const effects = withoutJobDone(run.recorder.effects);
    expect(effects).toContainEqual({ op: 'removeFromSet', key: keys.activePositions, member: 'GONEUSDT' });
    expect(effects).not.toContainEqual({ op: 'removeFromSet', key: keys.activePositions, member: 'LIVEUSDT' });
    expect(run.recorder.guards).toContainEqual({ kind: 'absent', key: keys.position('GONEUSDT') });
  });
});
