import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import {
  decodeTapeEntries,
  decodeTapeEntry,
  encodeTapeEntry,
  KEY_ENTRY_EVERY,
  RECORD_FIELD,
  TAPE_VERSION,
  TapeDecoder,
  type TapeRecord,
} from '../../app/tape/format.js';
import { redisTape } from '../../app/tape/store.js';
import { directReads } from '../../runtime/engine/execute.js';
import { ManualClock } from '../support/clock.js';
import type { RedisClient, RootLogger } from '../../runtime/host/index.js';

const book = ['1000', 'group', [], [['SYM1USDT', 'SYM2USDT']], [[['1000', '0.2', null]]], [], []];

function record(id: string, symbol: string, extra: Partial<TapeRecord> = {}): TapeRecord {
  return {
    v: TAPE_VERSION,
    gate: 'governor',
    id,
    producedAt: 1,
    raw: { plan_id: id, symbol },
    outcome: 'handled',
    batch: `b.${id}`,
    state: {
      calls: [
        ['get', ['quantum:kill'], null],
        ['eval_ro', ['sha1:abc', 4, 'a', 'b'], structuredClone(book)],
        ['info', ['memory'], `used_memory:${id}\nmaxmemory_policy:noeviction`],
      ],
      clock: [5],
    },
    reads: { calls: [['get', [`quantum:governor:version:${symbol}`], '3']], clock: [5] },
    effects: [{ op: 'emit', fields: { plan_id: id } }],
    jobs: [],
    ...extra,
  };
}

const entryOf = (json: string): Buffer[] => [Buffer.from(RECORD_FIELD), deflateRawSync(json)];
/** An entry's records as its JSON holds them (under `r`, beside the entry's head). */
const writtenRecords = <T>(json: string): T[] => (JSON.parse(json) as { r: T[] }).r;

describe('a tape entry', () => {
  it('writes a call repeated from the record before it as its place, and reads every record back whole', () => {
    const records = [record('p1', 'SYM1USDT'), record('p2', 'SYM1USDT'), record('p3', 'SYM2USDT', { state: undefined })];
    const json = encodeTapeEntry(records);
    const written = writtenRecords<{ state?: { calls: unknown[] }; reads: { calls: unknown[] } }>(json);
    // The book is written once: the second record's state names the first's calls 0 and 1 by place.
    expect(written[1]!.state!.calls).toEqual([0, 1, ['info', ['memory'], 'used_memory:p2\nmaxmemory_policy:noeviction']]);
    expect(written[1]!.reads.calls).toEqual([0]);
    expect(json.split('"group"').length - 1).toBe(1);
    // Another symbol's read is another call.
    expect(written[2]!.reads.calls).toEqual([['get', ['quantum:governor:version:SYM2USDT'], '3']]);
    expect(JSON.parse(JSON.stringify(decodeTapeEntry(entryOf(json))))).toEqual(JSON.parse(JSON.stringify(records)));
  });

  it('a reply that differs in anything (a value, a refusal, a field of a hash) is written whole', () => {
    const first = record('p1', 'S');
    const refused = record('p2', 'S', { reads: { calls: [['get', ['quantum:governor:version:S'], 'WRONGTYPE', 1]], clock: [] } });
    const hash = (value: string) =>
      record('h', 'S', { state: undefined, reads: { calls: [['hgetall', ['k'], { a: value, b: '2' }]], clock: [] } });
    const written = writtenRecords<{ reads: { calls: unknown[] } }>(encodeTapeEntry([first, refused, hash('1'), hash('1'), hash('2')]));
    expect(written[1]!.reads.calls[0]).toEqual(['get', ['quantum:governor:version:S'], 'WRONGTYPE', 1]);
    expect(written.map((r) => typeof r.reads.calls[0])).toEqual(['object', 'object', 'object', 'number', 'object']);
  });

  it("writes a cachedReads call's reads in runs of one command and arguments (version 3), and reads them back whole", () => {
    const fields = ['position_amt', 'mark_price', 'ts_epoch'];
    const reads = [
      ...['SYM1USDT', 'SYM22USDT', 'SYM3USDT'].map((s) => ['HMGET', `quantum:position:${s}`, ...fields]),
      ['HMGET', 'quantum:position:SYM1USDT:LONG', 'mark_price'],
      ['HGET', 'quantum:market:SYM1USDT', 'sigma'],
      ['HGET', 'quantum:market:SYM2USDT', 'sigma'],
      ['HGETALL', 'quantum:positions:held'],
    ];
    const replies = [['1', '2', '3'], [null, null, null], ['4', '5', '6'], [null], '0.2', { [`\u0000refused`]: 'WRONGTYPE' }, {}];
    const book = record('p1', 'S', { state: undefined, reads: { calls: [['cachedReads', ['p33-positions', reads], replies]], clock: [] } });
    const failed = record('p2', 'S', {
      state: undefined,
      reads: { calls: [['cachedReads', ['p33-positions', reads.slice(4)], 'down', 1]], clock: [] },
    });
    const json = encodeTapeEntry([book, failed]);
    const written = writtenRecords<{ reads: { calls: [string, [string, { runs: unknown[] }]][] } }>(json);
    expect(written[0]!.reads.calls[0]![1][1].runs).toEqual([
      ['HMGET', ['quantum:position:SYM1USDT', 'quantum:position:SYM22USDT', 'quantum:position:SYM3USDT'], ...fields],
      ['HMGET', ['quantum:position:SYM1USDT:LONG'], 'mark_price'],
      ['HGET', ['quantum:market:SYM1USDT', 'quantum:market:SYM2USDT'], 'sigma'],
      ['HGETALL', ['quantum:positions:held']],
    ]);
    expect(json.split('position_amt').length - 1).toBe(1);
    expect(JSON.parse(JSON.stringify(decodeTapeEntry(entryOf(json))))).toEqual(JSON.parse(JSON.stringify([book, failed])));
  });

  /** A governor record whose state reads the book through the key watch: `replies` to `reads`. */
  const bookRecord = (id: string, reads: readonly string[][], replies: readonly unknown[]) =>
    record(id, 'S', { state: { calls: [['cachedReads', ['p33-positions', reads], replies]], clock: [] } });
  const bookReads = Array.from({ length: 100 }, (_, i) => ['HMGET', `quantum:ticker:SYM${i}USDT`, 'markPrice', 'timestamp']);
  const tickers = (stamp: string) => bookReads.map((_, i) => [`${i}`, stamp]);

  it('writes a book read again as the replies that changed, and reads it back whole', () => {
    const first = tickers('1');
    const changed: unknown[] = [...first];
    changed[3] = ['3.5', '2'];
    changed[50] = null;
    const records = [bookRecord('p1', bookReads, first), bookRecord('p2', bookReads, changed), bookRecord('p3', bookReads, tickers('3'))];
    const json = encodeTapeEntry(records);
    const written = writtenRecords<{ state: { calls: unknown[] } }>(json);
    expect(written[1]!.state.calls).toEqual([
      {
        d: [
          [3, ['3.5', '2']],
          [50, null],
        ],
      },
    ]);
    // Every reply changed: written whole.
    expect((written[2]!.state.calls[0] as unknown[])[0]).toBe('cachedReads');
    expect(JSON.parse(JSON.stringify(decodeTapeEntry(entryOf(json))))).toEqual(JSON.parse(JSON.stringify(records)));
  });

  it("continues its writer's entry before it: read in order, each writer apart; alone, or after a gap, it does not decode", () => {
    const [a, b, c] = [
      bookRecord('p1', bookReads, tickers('1')),
      bookRecord('p2', bookReads, tickers('1')),
      bookRecord('p3', bookReads, tickers('1')),
    ];
    const head = (writer: string, seq: number, continues: boolean) => ({ writer, seq, continues });
    const base = (r: TapeRecord) => ({ reads: r.reads, state: r.state });
    const key = entryOf(encodeTapeEntry([a], head('w1', 0, false)));
    const next = entryOf(encodeTapeEntry([b], head('w1', 1, true), base(a)));
    const other = entryOf(encodeTapeEntry([c], head('w2', 0, false)));
    expect(writtenRecords<{ state: { calls: unknown[] } }>(encodeTapeEntry([b], head('w1', 1, true), base(a)))[0]!.state.calls).toEqual([
      0,
    ]);
    const ids = (list: TapeRecord[]) => list.map((r) => r.id);
    const decoder = new TapeDecoder();
    expect([key, other, next].flatMap((fields) => ids(decoder.decode(fields)))).toEqual(['p1', 'p3', 'p2']);
    // An append sent again after a lost reply is read once; what continues it decodes.
    expect(decoder.decode(next)).toEqual([]);
    expect(ids(decoder.decode(entryOf(encodeTapeEntry([c], head('w1', 2, true), base(b)))))).toEqual(['p3']);
    expect(JSON.parse(JSON.stringify(decodeTapeEntries([[Buffer.from('2-0'), next]])))).toEqual([]);
    expect(() => decodeTapeEntry(next)).toThrow(/continues writer w1's entry before it, not read/);
    // A record missing between them (an append Redis refused): this entry and those continuing it, until a key entry.
    const gap = new TapeDecoder();
    gap.decode(key);
    expect(() => gap.decode(entryOf(encodeTapeEntry([b], head('w1', 2, true), base(a))))).toThrow(
      /record 1, but its last on the tape is 0/,
    );
    expect(() => gap.decode(entryOf(encodeTapeEntry([c], head('w1', 3, true), base(b))))).toThrow(/did not decode/);
    expect(ids(gap.decode(entryOf(encodeTapeEntry([c], head('w1', 4, false)))))).toEqual(['p3']);
  });

  it('a version 2 entry (a cachedReads call whole) reads as it was written', () => {
    const reads = [['HMGET', 'quantum:position:SYM1USDT', 'mark_price']];
    const old = [{ ...record('p1', 'S'), v: 2, reads: { calls: [['cachedReads', ['p33-positions', reads], [['1']]]], clock: [] } }];
    expect(decodeTapeEntry(entryOf(JSON.stringify(old)))).toEqual(old);
  });

  it('a version 1 entry (one commit, every call whole) reads as it was written', () => {
    const old = [{ ...record('p1', 'S'), v: 1 }];
    expect(decodeTapeEntry(entryOf(JSON.stringify(old)))).toEqual(old);
  });

  it('an entry naming a call its previous record does not have does not decode', () => {
    const broken = JSON.stringify([{ ...record('p1', 'S'), reads: { calls: [3], clock: [] } }]);
    expect(() => decodeTapeEntry(entryOf(broken))).toThrow(/repeating call 3/);
  });
});

/** A Redis whose tape writes never answer (a stalled server), and what redisTape sent it. */
function stalledRedis() {
  const sent: string[] = [];
  const never = (name: string) => () => {
    sent.push(name);
    return new Promise(() => undefined);
  };
  return {
    sent,
    redis: { hset: never('hset'), xadd: never('xadd'), memory: never('memory'), xlen: never('xlen') } as unknown as RedisClient,
  };
}

const quietLogger = { warn: () => undefined } as unknown as RootLogger;

async function failures(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('quantum_gates_tape_write_failures_total')!.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

describe('the tape’s records in flight', () => {
  it('wait for more on the injected clock: written once it has moved on by the flush wait, not before', async () => {
    const added: unknown[] = [];
    const redis = { hset: async () => 1, xadd: async (...args: unknown[]) => added.push(args), memory: async () => 1, xlen: async () => 1 };
    const clock = new ManualClock(1_000);
    const tape = redisTape({}, [], { flushMs: 50 })!(redis as unknown as RedisClient, new Registry(), quietLogger, [], clock);
    tape.committed('governor', [{ outcome: { kind: 'handled' }, meta: { id: '1-0', producedAt: 1, raw: {} }, data: {} } as never]);
    expect(clock.sleeps).toEqual([50]);
    // Longer than the wait on the host's clock: the injected one has not moved.
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(added).toHaveLength(0);
    await clock.advance(50);
    await vi.waitFor(() => expect(added).toHaveLength(1), { timeout: 10_000, interval: 5 });
  });

  it('are bounded: past the bound a record is counted as not taped and dropped, and the decisions stand', async () => {
    const { redis, sent } = stalledRedis();
    const registry = new Registry();
    const tape = redisTape({}, [], { flushMs: 1, entryRecords: 4, inFlight: 10 })!(redis, registry, quietLogger);
    const sink = (n: number) => {
      for (let i = 0; i < n; i++) {
        const delivery = { outcome: { kind: 'handled' }, meta: { id: `1-${i}`, producedAt: 1, raw: {} }, data: {} };
        tape.committed('governor', [delivery as never]);
      }
    };
    sink(10);
    // The first entry (4 records) is being written, six wait: ten in flight, none dropped. Its
    // deflate runs on libuv's threads: awaited until its append is sent, however long that takes.
    await vi.waitFor(() => expect(sent.filter((s) => s === 'xadd')).toHaveLength(1), { timeout: 10_000, interval: 5 });
    expect(await failures(registry)).toBe(0);
    // Redis answers none of them: every further record is counted and dropped, none held.
    sink(25);
    expect(await failures(registry)).toBe(25);
    expect(sent.filter((s) => s === 'xadd')).toHaveLength(1);
  });

  /** A Redis whose tape appends wait for the test to answer them, and what they appended. */
  function heldRedis() {
    const appended: Buffer[] = [];
    const unanswered: (() => void)[] = [];
    const redis = {
      hset: async () => 1,
      xadd: (...args: unknown[]) => {
        appended.push(args.at(-1) as Buffer);
        return new Promise((resolve, reject) => unanswered.push(() => (refuseNext-- > 0 ? reject(new Error('OOM')) : resolve('1-0'))));
      },
      memory: async () => 1000,
      xlen: async () => 1,
      // The next append answered is refused.
      refuse: () => void (refuseNext = 1),
    } as unknown as RedisClient;
    let refuseNext = 0;
    const answerAll = () => unanswered.splice(0).forEach((answer) => answer());
    return { redis, appended, unanswered, answerAll };
  }

  const commitOf = (tape: ReturnType<NonNullable<ReturnType<typeof redisTape>>>, from: number, n: number) =>
    tape.committed(
      'heat-gate',
      Array.from(
        { length: n },
        (_, i) => ({ outcome: { kind: 'handled' }, meta: { id: `1-${from + i}`, producedAt: 1, raw: {} }, data: {} }) as never,
      ),
    );

  it('a cycle writes every record that waits, in entries whose appends go out together, in commit order', async () => {
    // A drain's heat gate commits 500 records a batch. Writing one entry of 64 a cycle, with a busy
    // thread between each step, the tape fell behind and dropped records in every drain.
    const { redis, appended, unanswered, answerAll } = heldRedis();
    const registry = new Registry();
    const tape = redisTape({}, [], { flushMs: 1, entryRecords: 64, inFlight: 1000 })!(redis, registry, quietLogger);
    commitOf(tape, 0, 500);
    // Eight entries (7 of 64, one of 52), all sent before any is answered.
    await vi.waitFor(() => expect(unanswered).toHaveLength(8));
    commitOf(tape, 500, 500);
    answerAll();
    // The second commit's 500, in the next cycle.
    await vi.waitFor(() => expect(unanswered).toHaveLength(8));
    answerAll();
    await tape.flushed();
    const decoder = new TapeDecoder();
    const ids = appended.flatMap((body) => decoder.decode([Buffer.from(RECORD_FIELD), body]).map((r) => r.id));
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => `1-${i}`));
    expect(await failures(registry)).toBe(0);
  });

  it('holds three of a gate’s largest commits when they are more than the bound: one written, one waiting, one arriving', async () => {
    const { redis, unanswered, answerAll } = heldRedis();
    const registry = new Registry();
    const tape = redisTape({}, [], { flushMs: 1, entryRecords: 64, inFlight: 1000 })!(redis, registry, quietLogger);
    commitOf(tape, 0, 500);
    await vi.waitFor(() => expect(unanswered).toHaveLength(8));
    commitOf(tape, 500, 500);
    commitOf(tape, 1000, 500);
    expect(await failures(registry)).toBe(0);
    // A fourth while the first is still unanswered: past the bound, counted and dropped.
    commitOf(tape, 1500, 500);
    expect(await failures(registry)).toBe(500);
    answerAll();
    await vi.waitFor(() => expect(unanswered).toHaveLength(16));
    answerAll();
    await tape.flushed();
    expect(await failures(registry)).toBe(500);
  });

  it('a tick of thousands of reads (written in slices, the thread given back between them) reads back whole', async () => {
    const { redis, appended, answerAll } = heldRedis();
    const tape = redisTape({}, [], { flushMs: 1 })!(redis, new Registry(), quietLogger);
    // A recorder the tape keys its reads on: the runtime's MessageContext, here only its identity.
    const ctx = {} as never;
    const hmget = { hmget: async (key: string) => [key.endsWith('0USDT') ? '0' : null] } as never;
    const reader = tape.wrap(directReads(hmget, () => 5)).message(ctx, undefined, hmget);
    for (let i = 0; i < 3_000; i++) await reader.redis.hmget(`quantum:position:snapshot:SYM${i}USDT`, 'position_amt');
    tape.committed('position-index', [
      { outcome: { kind: 'handled' }, meta: { id: 'tick-1', producedAt: 1, raw: {} }, data: {}, recorder: ctx } as never,
    ]);
    await vi.waitFor(() => expect(appended).toHaveLength(1));
    answerAll();
    await tape.flushed();
    const [record] = decodeTapeEntry([Buffer.from(RECORD_FIELD), appended[0]!]);

    expect(record!.id).toBe('tick-1');
    expect(record!.reads.calls).toHaveLength(3_000);
    expect(record!.reads.calls[2_990]).toEqual(['hmget', ['quantum:position:snapshot:SYM2990USDT', 'position_amt'], ['0']]);
  });

  /** Each appended entry's head: its number, and whether it continues the entry before (1). */
  const headsOf = (bodies: readonly Buffer[]) =>
    bodies.map((body) => {
      const { s: seq, c } = JSON.parse(inflateRawSync(body).toString()) as { s: number; c?: 1 };
      return [seq, c ?? 0];
    });

  /** A Redis that refuses the tape's second append (as out of memory), and what was appended. */
  function refusingSecondAppend() {
    const appended: Buffer[] = [];
    let appends = 0;
    const redis = {
      hset: async () => 1,
      xadd: async (...args: unknown[]) => {
        appended.push(args.at(-1) as Buffer);
        if (++appends === 2) throw new Error('OOM command not allowed');
        return '1-0';
      },
      memory: async () => 1000,
      xlen: async () => 1,
    } as unknown as RedisClient;
    return { redis, appended };
  }

  it("continues the writer's entry before, but after an append Redis refused, after KEY_ENTRY_EVERY records and its time", async () => {
    const { redis, appended } = refusingSecondAppend();
    const registry = new Registry();
    const clock = new ManualClock(1_000);
    const tape = redisTape({}, [], { flushMs: 0, entryRecords: 64, inFlight: 5_000 })!(redis, registry, quietLogger, [], clock);
    const one = async (at: number) => {
      commitOf(tape, at, 1);
      await tape.flushed();
    };
    await one(0);
    await one(1); // refused
    await one(2);
    await one(3);
    expect(headsOf(appended)).toEqual([
      [0, 0],
      [1, 1],
      [2, 0],
      [3, 1],
    ]);
    expect(await failures(registry)).toBe(1);
    // The clock past KEY_ENTRY_EVERY.ms since the key entry: the next is one.
    await clock.advance(KEY_ENTRY_EVERY.ms);
    await one(4);
    expect(headsOf(appended.slice(4))).toEqual([[4, 0]]);
    // 1,100 records in entries of 64 after the key entry's one: the sixteenth would pass KEY_ENTRY_EVERY.records since it.
    appended.length = 0;
    commitOf(tape, 5, 1_100);
    await tape.flushed();
    expect(headsOf(appended).filter(([, c]) => c === 0)).toEqual([[5 + 15 * 64, 0]]);
    expect(await failures(registry)).toBe(1);
  });

  it('counts an entry that continues one Redis refused as not taped: it is on the tape but does not decode', async () => {
    const { redis, appended, unanswered, answerAll } = heldRedis();
    const registry = new Registry();
    const tape = redisTape({}, [], { flushMs: 1, entryRecords: 4, inFlight: 1000 })!(redis, registry, quietLogger);
    commitOf(tape, 0, 12);
    await vi.waitFor(() => expect(unanswered).toHaveLength(3));
    expect(headsOf(appended)).toEqual([
      [0, 0],
      [4, 1],
      [8, 1],
    ]);
    unanswered.shift()!();
    (redis as unknown as { refuse: () => void }).refuse();
    answerAll();
    await tape.flushed();
    // The second refused (4 records), the third continues it (4 more).
    expect(await failures(registry)).toBe(8);
  });

  it('counts what continues a refused entry up to the next key entry, and nothing after it', async () => {
    const { redis } = refusingSecondAppend();
    const registry = new Registry();
    const tape = redisTape({}, [], { flushMs: 0, entryRecords: 64, inFlight: 5_000 })!(redis, registry, quietLogger);
    // One cycle of 18 entries: the second refused, the 3rd to the 15th continue it, the 16th is a key entry (KEY_ENTRY_EVERY.records).
    commitOf(tape, 0, 1_100);
    await tape.flushed();
    expect(await failures(registry)).toBe(14 * 64);
  });

  it('a commit waits for nothing: its records are written together, after it, in one entry', async () => {
    const added: Buffer[][] = [];
    const redis = {
      hset: async () => 1,
      xadd: async (...args: unknown[]) => {
        added.push(args.slice(-2) as Buffer[]);
        return '1-0';
      },
      memory: async () => 1000,
      xlen: async () => 1,
    } as unknown as RedisClient;
    const registry = new Registry();
    const tape = redisTape({}, [], { flushMs: 5, entryRecords: 64, inFlight: 1000 })!(redis, registry, quietLogger);
    for (let i = 0; i < 3; i++) {
      const delivery = { outcome: { kind: 'handled' }, meta: { id: `1-${i}`, producedAt: 1, raw: {} }, data: {} };
      tape.committed('governor', [delivery as never]);
    }
    expect(added).toHaveLength(0);
    await tape.flushed();
    expect(added).toHaveLength(1);
    expect(decodeTapeEntry([Buffer.from(added[0]![0]!), added[0]![1]!]).map((r) => r.id)).toEqual(['1-0', '1-1', '1-2']);
  });
});
