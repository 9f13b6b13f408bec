import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { READ_METHODS, tapedReply, type TapedReads } from '../../app/tape/format.js';
import { ReplyBook, replayReader } from '../../cli/rehearse/replay-reader.js';
import { loadPositionBook } from '../../handlers/positions/book.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import { keys, streams } from '../../schemas/keys.js';
import { BOOK_CONFIG } from '../support/book-producers.js';
import { startP33KeyWatch } from '../support/key-watch.js';
import { usePrivateRedis } from '../support/redis-server.js';

const config = BOOK_CONFIG;
const GROUP = 'position_snapshot';
const NOW = 1_800_000_000_000;

/** position-snapshot's commit of one entry (its row, index, applied id and acknowledgement, in one transaction). */
async function applySnapshot(r: Redis, id: string, notional: string): Promise<void> {
  await r.xreadgroup('GROUP', GROUP, 'snapshotter', 'COUNT', 1, 'STREAMS', streams.positionSnapshot, '>');
  await r
    .multi()
    .hset(keys.position('AUSDT'), { position_notional_usd: notional, sigma: '0.02', updated_at: String(NOW) })
    .sadd(keys.activePositions, 'AUSDT')
    .set(keys.positionAppliedId('AUSDT'), id)
    .xack(streams.positionSnapshot, GROUP, id)
    .exec();
}

const snapshot = (r: Redis, notional: string) =>
  r.xadd(streams.positionSnapshot, '*', 'symbol', 'AUSDT', 'position_notional_usd', notional, 'sigma', '0.02') as Promise<string>;

/** Whether a read asked the key watch's barrier beside the group's XINFO, after its answer, and how often. */
function barrierOrder(base: RedisReader): {
  reader: RedisReader;
  barrierBesideGroup: () => boolean;
  barrierAfterGroup: () => boolean;
  barriers: () => number;
} {
  let xinfoAnswered = false;
  let barrierBesideGroup = false;
  let barrierAfterGroup = false;
  let barriers = 0;
  const reader = new Proxy(base, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (property === 'keysToRead') {
          barriers++;
          barrierBesideGroup ||= !xinfoAnswered;
          barrierAfterGroup ||= xinfoAnswered;
        }
        const reply: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (property === 'xinfo') xinfoAnswered = true;
        return reply;
      };
    },
  });
  return { reader, barrierBesideGroup: () => barrierBesideGroup, barrierAfterGroup: () => barrierAfterGroup, barriers: () => barriers };
}

/**
 * readListing (handlers/positions/book.ts) sends the key watch's barrier beside the group's XINFO
 * when an earlier read found the group with nothing pending at the same last-delivered id; else
 * after it. Either way a snapshot applied at any step of the read counts.
 */
describe('the book’s barrier a round earlier once the snapshot group is settled', () => {
  const redis = usePrivateRedis();

  async function settledBook(): Promise<{ watch: Awaited<ReturnType<typeof startP33KeyWatch>> }> {
    const r = redis.client;
    await r.flushall();
    await r.xgroup('CREATE', streams.positionSnapshot, GROUP, '$', 'MKSTREAM');
    await applySnapshot(r, await snapshot(r, '500'), '500');
    const watch = await startP33KeyWatch(redis.url, r, config, () => NOW);
    // The first read finds the group with nothing pending: the next may send its barrier early.
    const first = barrierOrder(watch.reader);
    const { book } = await loadPositionBook(first.reader, config, { now: NOW });
    // (With another test's group state kept, a barrier went early too, and was not taken.)
    expect(first.barrierAfterGroup()).toBe(true);
    expect(book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 500]]);
    return { watch };
  }

  it('the group as the last read left it: the barrier goes with the XINFO, and the book is as read after it', async () => {
    const { watch } = await settledBook();
    try {
      const second = barrierOrder(watch.reader);
      const { book } = await loadPositionBook(second.reader, config, { now: NOW });
      expect([second.barriers(), second.barrierAfterGroup()]).toEqual([1, false]);
      expect(book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 500]]);
    } finally {
      await watch.stop();
    }
  });

  it.each(['pending', 'delivered and applied', 'group reset (SETID)'] as const)(
    'the group changed since the last read (%s): the barrier follows the XINFO',
    async (change) => {
      const { watch } = await settledBook();
      const r = redis.client;
      try {
        if (change === 'pending') {
          await snapshot(r, '700');
          await r.xreadgroup('GROUP', GROUP, 'snapshotter', 'COUNT', 1, 'STREAMS', streams.positionSnapshot, '>');
        } else if (change === 'delivered and applied') await applySnapshot(r, await snapshot(r, '700'), '700');
        else await r.xgroup('SETID', streams.positionSnapshot, GROUP, '0');
        const second = barrierOrder(watch.reader);
        const { book } = await loadPositionBook(second.reader, config, { now: NOW });
        expect(second.barrierAfterGroup()).toBe(true);
        expect(book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', change === 'group reset (SETID)' ? 500 : 700]]);
      } finally {
        await watch.stop();
      }
    },
  );

  // The read's steps in the order they are answered; each time, a snapshot written before the read
  // is delivered and applied right after that step (for the barrier: after its PONG, before the
  // XINFO is sent), and the book counts it: from the stream or from the view, never from neither.
  it.each(['keysToRead', 'xrevrange', 'xinfo', 'get', 'cachedReads'] as const)('a snapshot applied right after %s counts', async (step) => {
    const { watch } = await settledBook();
    const r = redis.client;
    try {
      const id = await snapshot(r, '700');
      let applied = false;
      let barrierDone: Promise<unknown> = Promise.resolve();
      const apply = async () => {
        if (applied) return;
        applied = true;
        await applySnapshot(r, id, '700');
      };
      const reader = new Proxy(watch.reader, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            // The barrier's step: the XINFO waits for its PONG and the apply.
            if (property === 'xinfo' && step === 'keysToRead') await barrierDone;
            const call = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (property === 'keysToRead' && step === 'keysToRead') barrierDone = call.then(apply);
            const reply: unknown = await call;
            if (property === step && step !== 'keysToRead') await apply();
            return reply;
          };
        },
      });
      const { book } = await loadPositionBook(reader, config, { now: NOW });
      expect(applied, `${step} was read`).toBe(true);
      expect(book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 700]]);
    } finally {
      await watch.stop();
    }
  });
});

/** A reader that tapes each read as the decision tape does (app/tape/recorder.ts). */
function taping(base: RedisReader): { reader: RedisReader; reads: TapedReads } {
  const reads: TapedReads = { calls: [], clock: [] };
  const reader = new Proxy(base, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || !READ_METHODS.has(property) || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const answer: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        reads.calls.push([property, [...args], tapedReply(property, answer)]);
        return answer;
      };
    },
  });
  return { reader, reads };
}

/**
 * Whether the barrier goes early depends on what this process's earlier read found; a rehearsal's
 * process found other things. Every read either path makes is one the other makes on the same
 * replies, so a taped book read is answered whole whichever path its rehearsal takes.
 */
describe('a taped book read rehearsed by a process that kept another group state', () => {
  const redis = usePrivateRedis();

  it.each([
    ['taped early, rehearsed with another id kept', true, false],
    ['taped with another id kept, rehearsed early', false, true],
  ] as const)('%s: every read answered from the tape, the same book', async (_name, tapedEarly, rehearsedEarly) => {
    const r = redis.client;
    await r.flushall();
    await r.xgroup('CREATE', streams.positionSnapshot, GROUP, '$', 'MKSTREAM');
    await applySnapshot(r, await snapshot(r, '500'), '500');
    const watch = await startP33KeyWatch(redis.url, r, config, () => NOW);
    // A read of the group at last-delivered id 0 keeps that, not the id the taped read finds.
    const keep = async (same: boolean) => {
      const [group] = (await r.xinfo('GROUPS', streams.positionSnapshot)) as unknown[][];
      const lastDelivered = String(group![group!.indexOf('last-delivered-id') + 1]);
      if (!same) await r.xgroup('SETID', streams.positionSnapshot, GROUP, '0');
      await loadPositionBook(watch.reader, config, { now: NOW });
      await r.xgroup('SETID', streams.positionSnapshot, GROUP, lastDelivered);
    };
    try {
      await keep(tapedEarly);
      // A snapshot not yet delivered: the taped read lists it, and reads its symbol's applied id. (Its
      // barriers: taken early, that one and the applied ids' second; else one sent early and not
      // taken (with an id kept), the one after the XINFO and the second.)
      await snapshot(r, '700');
      const taped = taping(watch.reader);
      const live = barrierOrder(taped.reader);
      const { book } = await loadPositionBook(live.reader, config, { now: NOW });
      expect(live.barrierBesideGroup() && live.barriers() === 2).toBe(tapedEarly);
      await keep(rehearsedEarly);
      const missing: string[] = [];
      const replayed = barrierOrder(replayReader(new ReplyBook(taped.reads), undefined, (read) => missing.push(read)));
      const rehearsed = await loadPositionBook(replayed.reader, config, { now: NOW });
      expect(replayed.barrierBesideGroup() && replayed.barriers() === 2).toBe(rehearsedEarly);
      expect(missing).toEqual([]);
      expect(rehearsed.book).toEqual(book);
      expect(book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 700]]);
    } finally {
      await watch.stop();
    }
  });
});
