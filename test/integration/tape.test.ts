import { afterEach, describe, expect, it } from 'vitest';
import { checkHttpEnv } from '../../app/http-plugins.js';
import { entriesKept, parseTapeSettings, redisTape } from '../../app/tape/store.js';
import { seedPortfolio, writeGovernorPlans } from '../../bench/governor-plans.js';
import { deflateRawSync } from 'node:zlib';
import { encodeTapeEntry, KEY_ENTRY_EVERY, RECORD_FIELD, tapeKey, TAPE_VERSION, type TapeRecord } from '../../app/tape/format.js';
import { tapeEntries } from '../../app/tape/read.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { untilKeys, untilStream, untilStreamLength } from '../support/until.js';
import { tapedRecords, writeCloseBacklog } from '../support/heat-backlog.js';

describe('the decision tape', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  async function heatDecision(planId: string): Promise<Runtime> {
    const env = { HANDLERS: 'position-snapshot,heat-gate' };
    runtime = await startRuntime(redis.url, env, undefined, { tape: redisTape(env) });
    const r = redis.client;
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'ETHUSDT', 'position_notional_usd', '1800', 'sigma', '0.15');
    await untilKeys(r, [keys.activePositions], () => r.sismember(keys.activePositions, 'ETHUSDT'), { what: 'snapshot applied' });
    await r.xadd(streams.harvestProposal, '*', 'plan_id', planId, 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await untilStream(r, streams.harvestCalibrated, (entries) => entries.find((e) => e.plan_id === planId), { what: planId });
    return runtime;
  }

  it('keeps each committed decision: its input, the replies its ctx and batch state read, its clock and its effects', async () => {
    await heatDecision('tape1');
    // The heat gate's first tape entry, written after its first commit: tape1's.
    await untilStreamLength(redis.client, tapeKey('heat-gate'), 1);
    const [record] = (await tapedRecords(redis.client, 'heat-gate')).filter((t) => t.raw.plan_id === 'tape1');

    expect(record).toMatchObject({ gate: 'heat-gate', outcome: 'handled', raw: { plan_id: 'tape1', symbol: 'ETHUSDT' } });
    // The equity the heat was computed from is on the tape, as read.
    const allReads = [...(record!.state?.calls ?? []), ...record!.reads.calls];
    expect(JSON.stringify(allReads)).toContain('10000');
    expect(record!.reads.clock.length + (record!.state?.clock.length ?? 0)).toBeGreaterThan(0);
    const emitted = record!.effects as { op: string; stream?: string; fields?: Record<string, string> }[];
    expect(emitted.find((e) => e.op === 'emit' && e.stream === streams.harvestCalibrated)?.fields).toMatchObject({ plan_id: 'tape1' });
    // Its size is a metric.
    expect(await metricSum(runtime!, 'quantum_gates_tape_entries', { handler: 'heat-gate' })).toBeGreaterThan(0);
    expect(await metricSum(runtime!, 'quantum_gates_tape_bytes', { handler: 'heat-gate' })).toBeGreaterThan(0);
  });

  it('reports the size of each hosted gate’s tape from the start, before the gate decides anything (a tape outlives a restart)', async () => {
    await heatDecision('tape3');
    // Stopped as soon as the decision shows: the stop waits for its record (CI once read 0 here).
    await runtime!.stop();
    expect(await redis.client.xlen(tapeKey('heat-gate'))).toBe(1);
    const env = { HANDLERS: 'position-snapshot,heat-gate' };
    runtime = await startRuntime(redis.url, env, undefined, { tape: redisTape(env, ['position-snapshot', 'heat-gate']) });
    expect(await metricSum(runtime, 'quantum_gates_tape_entries', { handler: 'heat-gate' })).toBeGreaterThan(0);
  });

  it('keeps every decision of a drain in commit order, its entries appended side by side: a backlog of 4,000 read 500 at a time', async () => {
    const r = redis.client;
    const backlog = 4_000;
    await writeCloseBacklog(r, backlog, 'd-');
    const env = { HANDLERS: 'heat-gate', BATCH_SIZE: '500' };
    runtime = await startRuntime(redis.url, env, undefined, { tape: redisTape(env) });
    await untilStreamLength(r, streams.harvestCalibrated, backlog, { timeoutMs: 60_000 });
    // A stop writes what waits and waits for the writes in hand.
    await runtime.stop();

    expect(await metricSum(runtime, 'quantum_gates_tape_write_failures_total', { handler: 'heat-gate' })).toBe(0);
    const ids = (await tapedRecords(r, 'heat-gate')).map((t) => t.raw.plan_id);
    expect(ids).toEqual(Array.from({ length: backlog }, (_, n) => `d-${n}`));
  });

  it('a tape Redis refuses is counted and the decision stands', async () => {
    // A string where the stream should be: every XADD to it is refused (WRONGTYPE).
    await redis.client.set(tapeKey('heat-gate'), 'not a stream');
    await heatDecision('tape2');
    await waitFor(async () => (await metricSum(runtime!, 'quantum_gates_tape_write_failures_total', { handler: 'heat-gate' })) > 0, {
      what: 'a counted tape failure',
    });
    const [decision] = (await readStream(redis.client, streams.harvestCalibrated)).filter((e) => e.plan_id === 'tape2');
    expect(decision).toMatchObject({ calibrated_action: 'PARTIAL_25' });
  });

  it('TAPE_MAXBYTES bounds a tape in memory as well as in decisions: a governor tape of 3 KB decisions at 64 KiB', async () => {
    const env = { HANDLERS: 'position-snapshot,governor', GOV_MAX_PLAN_AGE_SEC: '0', TAPE_MAXBYTES: String(64 * 1024) };
    const r = redis.client;
    await seedPortfolio(r, 10);
    runtime = await startRuntime(redis.url, env, undefined, { tape: redisTape(env) });
    await untilKeys(r, [keys.activePositions], async () => (await r.scard(keys.activePositions)) >= 10 || undefined, {
      what: 'the book of 10 applied',
    });
    const PLANS = 600;
    await writeGovernorPlans(r, PLANS);
    await untilStreamLength(r, streams.governorEvents, PLANS, { timeoutMs: 60_000, what: 'every plan decided' });
    await runtime.stop();
    runtime = undefined;
    // A decision a commit (the governor), each near 3 KB of Redis memory: 600 of them would be 1.8 MiB.
    const length = await r.xlen(tapeKey('governor'));
    const bytes = Number(await r.memory('USAGE', tapeKey('governor'), 'SAMPLES', 0));
    expect(length).toBeLessThan(PLANS / 4);
    expect(bytes).toBeLessThan(2 * 64 * 1024);
    expect(parseTapeSettings({}).TAPE_MAXBYTES).toBe(256 * 2 ** 20);
  }, 90_000);

  it("a reader from a time inside a writer's run decodes it from the key entry before; a trimmed head is left out; a gap is told", async () => {
    const r = redis.client;
    const gate = 'reader-test';
    const reads = Array.from({ length: 50 }, (_, i) => ['HMGET', `quantum:ticker:SYM${i}USDT`, 'markPrice']);
    const decision = (id: string, stamp: string): TapeRecord => ({
      ...{ v: TAPE_VERSION, gate, id, producedAt: 1, raw: {}, outcome: 'handled', effects: [], jobs: [] },
      reads: { calls: [['cachedReads', ['p33-positions', reads], reads.map((_, i) => [`${i}`, i === 7 ? stamp : '1'])]], clock: [1] },
    });
    const t = 1_700_000_000_000;
    /** Appends `record` at `at` ms (Redis's clock names entries: set here, as a test drives time), continuing `before` when given. */
    const append = (writer: string, seq: number, at: number, record: TapeRecord, before?: TapeRecord) =>
      r.xadd(
        tapeKey(gate),
        `${at}-0`,
        RECORD_FIELD,
        deflateRawSync(
          encodeTapeEntry([record], { writer, seq, continues: before !== undefined }, before && { reads: before.reads, state: undefined }),
        ),
      );
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id, k) => decision(id, `${k}`));
    await append('w1', 0, t, a!);
    await append('w2', 0, t + 1_000, c!);
    await append('w1', 1, t + 30_000, b!, a);
    await append('w1', 2, t + KEY_ENTRY_EVERY.ms - 1, d!, b);
    const read = async (since: number | undefined) => {
      const out: string[] = [];
      for await (const entry of tapeEntries(r, gate, since))
        out.push('error' in entry ? `error ${entry.error}` : entry.records.map((x) => x.id).join());
      return out;
    };
    expect(await read(undefined)).toEqual(['a', 'c', 'b', 'd']);
    // From inside w1's run: its key entry, before the start, is read for what the run continues.
    expect(await read(t + 20_000)).toEqual(['b', 'd']);
    // Written as the one reply that changed, read back whole.
    const entries = [];
    for await (const entry of tapeEntries(r, gate, undefined)) entries.push(entry);
    expect(entries[2]).toEqual({ id: `${t + 30_000}-0`, records: [b] });
    // The trim took w1's key entry: what continued it goes with it, unsaid; w2's stands.
    await r.xdel(tapeKey(gate), `${t}-0`);
    expect(await read(undefined)).toEqual(['c']);
    // A record missing inside a run (an append Redis refused): told, with every entry continuing it.
    await append('w2', 2, t + 70_000, d!, c);
    await append('w2', 3, t + 71_000, a!, d);
    expect(await read(t + 65_000)).toEqual([
      "error continues writer w2's record 1, but its last on the tape is 0",
      "error continues writer w2's entry that did not decode",
    ]);
  });

  it('entriesKept: the fewer of the entries that hold TAPE_MAXLEN decisions and those that fit in TAPE_MAXBYTES', () => {
    expect(entriesKept(80_000, 256 * 2 ** 20, 1, 3 * 1024)).toBe(80_000);
    expect(entriesKept(80_000, 256 * 2 ** 20, 1, 15 * 1024)).toBe(17_477);
    expect(entriesKept(80_000, 0, 4, 15 * 1024)).toBe(20_000);
    expect(entriesKept(10, 100, 1, 1e6)).toBe(1);
  });

  it('TAPE_MAXLEN=0 keeps no tape; by default it holds a day of the default pipeline; a bad value stops the start naming it', () => {
    expect(redisTape({ TAPE_MAXLEN: '0' })).toBeUndefined();
    // The busiest gate of the default pipeline: the governor, 0.6 plans/s.
    expect(parseTapeSettings({}).TAPE_MAXLEN).toBeGreaterThanOrEqual(0.6 * 86_400);
    expect(() => checkHttpEnv({ TAPE_MAXLEN: 'lots' }, '127.0.0.1')).toThrow(/TAPE_MAXLEN/);
  });
});
