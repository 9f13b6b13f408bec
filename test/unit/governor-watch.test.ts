import { describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { positionIndex } from '../../handlers/positions/index-job.js';
import { keys } from '../../schemas/keys.js';
import { runHandler, withoutJobDone } from '../support/fake-ctx.js';

const NOW = 1_800_000_000_000;

/**
 * A permitted open's symbol is watched (read directly by every book read) from the permit's own
 * commit until its fill is in the book: never ended by the clock alone (issues #37 item 3, #69 item 2).
 */
describe('the governor watches a permitted open’s symbol until its fill is in the book', () => {
  it('the permit lists the symbol in the P3.3 index and watches it, with no TTL, in its own commit', async () => {
    const open = { plan_id: 'o1', symbol: 'NEWUSDT', action: 'OPEN_LONG', decision: 'EXECUTE', side: 'BUY', qty: '1.5', price: '100' };
    const run = await runHandler(governor, open, { now: NOW, redis: { hashes: { [keys.marketState('NEWUSDT')]: { mark_price: '100' } } } });
    expect(run.recorder.effects).toContainEqual({ op: 'addToSet', key: keys.p33PositionIndex, member: 'NEWUSDT' });
    expect(run.recorder.effects).toContainEqual({ op: 'addToSortedSet', key: keys.p33Watch, score: NOW + 120_000, member: 'NEWUSDT' });
  });

  const index = (now: number, hashes: Record<string, Record<string, string>> = {}) =>
    runHandler(
      positionIndex,
      {},
      {
        now,
        env: { POSITION_INDEX_SCAN_STEPS: '0', POSITION_P33_SYMBOLS: 'NEWUSDT' },
        redis: { hashes, sortedSets: { [keys.p33Watch]: { NEWUSDT: NOW + 120_000 } }, sets: { [keys.p33PositionIndex]: ['NEWUSDT'] } },
      },
    );
  const watchEnded = (run: Awaited<ReturnType<typeof index>>) =>
    withoutJobDone(run.recorder.effects).some((e) => e.op === 'trimSortedSet' && e.key === keys.p33Watch);
  const filled = { [keys.p33StatePositions('NEWUSDT')]: { position_amt: '1.5', mark_price: '100', ts_epoch: String(NOW / 1000) } };
  const flat = { [keys.p33StatePositions('NEWUSDT')]: { position_amt: '0.0', mark_price: '100', ts_epoch: String(NOW / 1000) } };

  it('a refresh before the reservation expired ends no watch, whatever it finds', async () => {
    expect(watchEnded(await index(NOW, filled))).toBe(false);
    expect(watchEnded(await index(NOW + 120_000, filled))).toBe(false);
  });

  it('a refresh begun after it expired ends the watch once it finds the fill, or P3.3 saying flat', async () => {
    const ended = await index(NOW + 120_001, filled);
    expect(withoutJobDone(ended.recorder.effects)).toContainEqual({
      op: 'addToSortedSet',
      key: keys.p33Watch,
      member: 'NEWUSDT',
      score: -1,
    });
    expect(withoutJobDone(ended.recorder.effects)).toContainEqual({ op: 'trimSortedSet', key: keys.p33Watch, maxScore: -1 });
    expect(watchEnded(await index(NOW + 120_001, flat))).toBe(true);
  });

  it('never by the clock alone: no hash of the symbol yet, however late the refresh', async () => {
    expect(watchEnded(await index(NOW + 3_600_000))).toBe(false);
    // Never the whole key replaced: a symbol a permit adds meanwhile stays watched.
    expect(
      withoutJobDone((await index(NOW + 3_600_000)).recorder.effects).filter((e) => e.op === 'deleteKey' && e.key === keys.p33Watch),
    ).toEqual([]);
  });
});
