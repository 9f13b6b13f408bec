import { describe, expect, it } from 'vitest';
import { ReplyBook, replayReader, UnanswerableRead } from '../../cli/rehearse/replay-reader.js';
import type { TapedCall } from '../../app/tape/format.js';
import type { ReadCommand } from '../../runtime/contract/redis-reader.js';
import { keys } from '../../schemas/keys.js';
import { P33_KEY_WATCH } from '../../handlers/positions/book.js';

/** The book's listings as 1.9.0 taped them: plain calls beside one cachedReads call of the memory and the tracker. */
const taped19: TapedCall[] = [
  ['smembers', [keys.activePositions], ['AUSDT']],
  ['zrangebyscore', [keys.p33Watch, '-inf', '+inf'], ['BUSDT']],
  ['sismember', [keys.p33PositionIndex, ''], 'WRONGTYPE Operation against a key holding the wrong kind of value', 1],
  [
    'cachedReads',
    [
      P33_KEY_WATCH,
      [
        ['HGETALL', keys.positionsHeld],
        ['HMGET', keys.trackerAccount, 'timestamp'],
      ],
    ],
    [{ 'AUSDT:LONG': '{}' }, ['1800000000']],
  ],
];

/** The same reads as 1.10.0 asks them: the listings in the one cachedReads call, first. */
const asked: ReadCommand[] = [
  ['SMEMBERS', keys.activePositions],
  ['ZRANGEBYSCORE', keys.p33Watch, '-inf', '+inf'],
  ['SISMEMBER', keys.p33PositionIndex, ''],
  ['HGETALL', keys.positionsHeld],
  ['HMGET', keys.trackerAccount, 'timestamp'],
];

describe('a rehearsal answers a cachedReads call read by read when the tape holds it otherwise', () => {
  it('answers each read from another cachedReads call or the same read taped plain, a refusal an Error in its place', async () => {
    const replies = (await replayReader(new ReplyBook({ calls: taped19, clock: [] })).cachedReads!(P33_KEY_WATCH, asked))!;
    expect(replies.slice(0, 2)).toEqual([['AUSDT'], ['BUSDT']]);
    expect(replies[2]).toBeInstanceOf(Error);
    expect((replies[2] as Error).message).toMatch(/^WRONGTYPE/);
    expect(replies.slice(3)).toEqual([{ 'AUSDT:LONG': '{}' }, ['1800000000']]);
  });

  it('answers a call the tape holds whole as it was taped', async () => {
    const whole: TapedCall[] = [['cachedReads', [P33_KEY_WATCH, asked.slice(0, 1)], [['CUSDT']]], ...taped19];
    const reader = replayReader(new ReplyBook({ calls: whole, clock: [] }));
    expect(await reader.cachedReads!(P33_KEY_WATCH, asked.slice(0, 1))).toEqual([['CUSDT']]);
  });

  it('names a read neither holds unanswerable, never answering it with a default', async () => {
    const missed: string[] = [];
    const reader = replayReader(new ReplyBook({ calls: taped19, clock: [] }), undefined, (read) => missed.push(read));
    const more: ReadCommand[] = [...asked, ['HMGET', keys.portfolioState, 'equity_usd', 'timestamp']];
    await expect(reader.cachedReads!(P33_KEY_WATCH, more)).rejects.toBeInstanceOf(UnanswerableRead);
    expect(missed).toHaveLength(1);
    expect(missed[0]).toContain('cachedReads');
  });
  it('answers a barrier the tape lacks "not live" (the running release took none and read every key), one it holds as taped', async () => {
    // The position index refresh as 1.11.0 taped it: P3.3's hashes read plain, no barrier.
    const hash: ReadCommand = ['HMGET', keys.p33StatePositions('AUSDT'), 'position_amt'];
    const plain: TapedCall[] = [['hmget', hash.slice(1), ['0']]];
    const reader = replayReader(new ReplyBook({ calls: plain, clock: [] }));
    expect(await reader.keysToRead!(P33_KEY_WATCH)).toBeNull();
    expect(await reader.cachedReads!(P33_KEY_WATCH, [hash])).toEqual([['0']]);
    const withBarrier = replayReader(new ReplyBook({ calls: [['keysToRead', [P33_KEY_WATCH], []], ...plain], clock: [] }));
    expect(await withBarrier.keysToRead!(P33_KEY_WATCH)).toEqual([]);
  });
});
