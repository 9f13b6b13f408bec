import { describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { positionIndex } from '../../handlers/positions/index-job.js';
import { keys } from '../../schemas/keys.js';
import { runHandler, withoutJobDone } from '../support/fake-ctx.js';

const NOW = 1_800_000_000_000;

/** A permitted open's symbol is watched by the position index from the permit's own commit on (issue #37 item 3). */
describe('the governor watches a permitted open’s symbol', () => {
  it('the permit lists the symbol in the P3.3 index and watches it until its reservation expires, in its own commit', async () => {
    const open = { plan_id: 'o1', symbol: 'NEWUSDT', action: 'OPEN_LONG', decision: 'EXECUTE', side: 'BUY', qty: '1.5', price: '100' };
    const run = await runHandler(governor, open, { now: NOW, redis: { hashes: { [keys.marketState('NEWUSDT')]: { mark_price: '100' } } } });
    expect(run.recorder.effects).toContainEqual({ op: 'addToSet', key: keys.p33PositionIndex, member: 'NEWUSDT' });
    expect(run.recorder.effects).toContainEqual({
      op: 'addToSortedSet',
      key: keys.p33Watch,
      score: NOW + 120_000,
      member: 'NEWUSDT',
      ttlSec: 120,
    });
  });

  it('the position index keeps a watched symbol listed, hash or not, until its watch ends', async () => {
    const index = (now: number) =>
      runHandler(
        positionIndex,
        {},
        {
          now,
          env: { POSITION_INDEX_SCAN_STEPS: '0' },
          redis: { sortedSets: { [keys.p33Watch]: { NEWUSDT: NOW + 120_000 } }, sets: { [keys.p33PositionIndex]: ['NEWUSDT'] } },
        },
      );
    const unlisted = (run: Awaited<ReturnType<typeof index>>) =>
      withoutJobDone(run.recorder.effects).flatMap((e) => (e.op === 'removeFromSet' && e.key === keys.p33PositionIndex ? [e.member] : []));
    const watched = await index(NOW);
    // Listed already (the permit's commit): it stays, with no hash.
    expect(unlisted(watched)).toEqual([]);
    expect(withoutJobDone(watched.recorder.effects)).toContainEqual({ op: 'trimSortedSet', key: keys.p33Watch, maxScore: NOW });
    const ended = await index(NOW + 120_000);
    expect(unlisted(ended)).toEqual(['NEWUSDT']);
    expect(withoutJobDone(ended.recorder.effects)).toContainEqual({ op: 'removeFromSet', key: keys.p33PositionIndex, member: 'NEWUSDT' });
    // Never the whole key replaced: a symbol a permit adds meanwhile stays listed.
    expect(withoutJobDone(ended.recorder.effects).filter((e) => e.op === 'deleteKey')).toEqual([]);
  });
});
