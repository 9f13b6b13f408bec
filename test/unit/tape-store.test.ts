import { deflateRawSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { decodeTapeEntry, encodeTapeEntry, RECORD_FIELD, TAPE_VERSION, type TapeRecord } from '../../app/tape/format.js';
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

describe('a tape entry', () => {
  it('writes a call repeated from the record before it as its place, and reads every record back whole', () => {
    const records = [record('p1', 'SYM1USDT'), record('p2', 'SYM1USDT'), record('p3', 'SYM2USDT', { state: undefined })];
    const json = encodeTapeEntry(records);
    const written = JSON.parse(json) as { state?: { calls: unknown[] }; reads: { calls: unknown[] } }[];
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
    const written = JSON.parse(encodeTapeEntry([first, refused, hash('1'), hash('1'), hash('2')])) as { reads: { calls: unknown[] } }[];
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
    const written = JSON.parse(json) as { reads: { calls: [string, [string, { runs: unknown[] }]][] } }[];
    expect(written[0]!.reads.calls[0]![1][1].runs).toEqual([
      ['HMGET', ['quantum:position:SYM1USDT', 'quantum:position:SYM22USDT', 'quantum:position:SYM3USDT'], ...fields],
      ['HMGET', ['quantum:position:SYM1USDT:LONG'], 'mark_price'],
      ['HGET', ['quantum:market:SYM1USDT', 'quantum:market:SYM2USDT'], 'sigma'],
      ['HGETALL', ['quantum:positions:held']],
    ]);
    expect(json.split('position_amt').length - 1).toBe(1);
    expect(JSON.parse(JSON.stringify(decodeTapeEntry(entryOf(json))))).toEqual(JSON.parse(JSON.stringify([book, failed])));
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
        return new Promise((resolve) => unanswered.push(() => resolve('1-0')));
      },
      memory: async () => 1000,
      xlen: async () => 1,
    } as unknown as RedisClient;
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
    const ids = appended.flatMap((body) => decodeTapeEntry([Buffer.from(RECORD_FIELD), body]).map((r) => r.id));
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
