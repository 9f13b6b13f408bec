import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import type { CommitItem } from '../../runtime/engine/delivery.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import type { Redis } from 'ioredis';
import { echoGate } from '../support/echo-gate.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { createTestRuntime, pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';

const IN = 'test:stream:overlap-in';
const OUT = 'test:stream:overlap-out';

function echo(events: string[], readsOwnWrites: boolean | undefined): AnyHandler {
  return echoGate({ input: IN, output: OUT, readsOwnWrites, before: (message) => void events.push(`handle ${message.n}`) });
}

/** A handler that never reads its own writes, with a batch state from `loadState`; `seen` sees each message with it. */
function withBatchState<State>(
  loadState: (reader: RedisReader) => Promise<State>,
  seen: (n: string, id: string, state: State) => void = () => undefined,
): AnyHandler {
  return echoGate({
    input: IN,
    output: OUT,
    readsOwnWrites: false,
    loadState,
    before: (message, ctx) => seen(message.n, ctx.meta.id, ctx.state),
  });
}

const numbers = (items: readonly CommitItem[]) =>
  items.map((item) => (item.recorder?.effects[0] as { fields: { n: string } } | undefined)?.fields.n).join(',');

/** Commits through a real TransactionCommitter, logging each commit and holding the first until released. */
function heldFirstCommit(events: string[]) {
  let release = () => undefined as void;
  const released = new Promise<void>((r) => (release = r));
  let first = true;
  const factory = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
    const inner = new TransactionCommitter(connection, 0);
    return {
      async commit(source, items) {
        events.push(`commit ${numbers(items)} begins`);
        if (first) {
          first = false;
          await released;
        }
        const report = await inner.commit(source, items);
        events.push(`commit ${numbers(items)} ends`);
        return report;
      },
    };
  };
  return { factory, release };
}

describe('handling the next batch while the previous one commits', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  let releaseHeld = () => undefined as void;

  beforeEach(async () => {
    await produce(
      redis.client,
      IN,
      ['0', '1', '2', '3', '4', '5'].map((n) => ({ n })),
    );
  });
  afterEach(async () => {
    releaseHeld(); // a failed test must not leave the runtime's stop waiting on a held commit
    await runtime?.stop();
    runtime = undefined;
  });

  async function run(readsOwnWrites: boolean | undefined) {
    const events: string[] = [];
    const held = heldFirstCommit(events);
    releaseHeld = held.release;
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '2' }, [echo(events, readsOwnWrites)], { committerFactory: held.factory });
    return { events, release: held.release };
  }

  it('a handler that never reads its own writes runs on the next batch while the first commits; commits apply in order', async () => {
    const { events, release } = await run(false);
    await waitFor(() => events.includes('handle 2'), { what: 'the second batch handled during the first commit' });
    expect(events).not.toContain('commit 0,1 ends');
    // One commit in flight: the second batch's waits for the first to settle, and the third
    // batch is not handled before then.
    expect(events).not.toContain('commit 2,3 begins');
    expect(events).not.toContain('handle 4');
    release();
    await waitFor(async () => (await readStream(redis.client, OUT)).length === 6, { what: 'six outputs' });
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(['0', '1', '2', '3', '4', '5']);
    await waitFor(() => events.includes('commit 4,5 ends'), { what: 'the last commit answered' });
    expect(events.filter((e) => e.startsWith('commit'))).toEqual([
      'commit 0,1 begins',
      'commit 0,1 ends',
      'commit 2,3 begins',
      'commit 2,3 ends',
      'commit 4,5 begins',
      'commit 4,5 ends',
    ]);
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
  });

  it.each([
    ['by default', undefined],
    ['when it says it reads its own writes', true],
  ] as const)('a handler runs on a batch only after the previous batch committed, %s', async (_when, readsOwnWrites) => {
    const { events, release } = await run(readsOwnWrites);
    await waitFor(() => events.includes('commit 0,1 begins'), { what: 'the first commit' });
    // Give a wrongly overlapping runtime every chance to handle the next batch early.
    await new Promise((r) => setTimeout(r, 200));
    release();
    await waitFor(async () => (await readStream(redis.client, OUT)).length === 6, { what: 'six outputs' });
    expect(events.indexOf('handle 2')).toBeGreaterThan(events.indexOf('commit 0,1 ends'));
    expect(events.indexOf('handle 4')).toBeGreaterThan(events.indexOf('commit 2,3 ends'));
  });

  it('stopping while a commit is in flight finishes it and the batch handled meanwhile', async () => {
    const { events, release } = await run(false);
    await waitFor(() => events.includes('handle 2'), { what: 'the second batch handled during the first commit' });
    const stopped = runtime!.stop();
    release();
    await stopped;
    runtime = undefined;
    const outputs = (await readStream(redis.client, OUT)).map((e) => e.n);
    // Every entry read was committed, and nothing twice; what was never read stays in the stream for the next start.
    expect(new Set(outputs).size).toBe(outputs.length);
    expect(outputs.slice(0, 4)).toEqual(['0', '1', '2', '3']);
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
  });

  it("reads a batch's state after its entries were delivered, once per batch", async () => {
    const events: string[] = [];
    const seen: { id: string; n: string; load: number; deliveredWhenLoaded: string }[] = [];
    let loads = 0;
    const withState = withBatchState(
      async (reader) => {
        const load = ++loads;
        events.push(`load ${load}`);
        // Through the reader the runtime hands over, as a real gate reads its state.
        const groups = (await reader.eval_ro("return redis.call('XINFO', 'GROUPS', KEYS[1])", 1, IN)) as unknown[][];
        const group = groups.find((g) => g[1] === 'echo')!;
        // A slow state read, as under load.
        await new Promise((r) => setTimeout(r, 50));
        return { load, deliveredWhenLoaded: String(group[group.indexOf('last-delivered-id') + 1]) };
      },
      (n, id, state) => seen.push({ id, n, ...state }),
    );
    const held = heldFirstCommit(events);
    held.release();
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '2', CLAIM_INTERVAL_MS: '600000' }, [withState], {
      committerFactory: held.factory,
    });
    await waitFor(async () => (await readStream(redis.client, OUT)).length === 6, { what: 'six outputs' });
    // Two more while the consumer waits in a blocking read: its state must not be read before they arrive.
    await new Promise((r) => setTimeout(r, 300));
    await produce(redis.client, IN, [{ n: '6' }, { n: '7' }]);
    await waitFor(async () => (await readStream(redis.client, OUT)).length === 8, { what: 'eight outputs' });
    expect(seen.map((m) => m.n)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    // Never older than the entries: each state was read after its batch was delivered.
    for (const { id, deliveredWhenLoaded } of seen) expect(compareStreamIds(id, deliveredWhenLoaded)).toBeLessThanOrEqual(0);
    // One state per batch, shared by its messages.
    const loadOf = (n: string) => seen.find((m) => m.n === n)!.load;
    expect([loadOf('0') === loadOf('1'), loadOf('2') === loadOf('3'), loadOf('4') === loadOf('5')]).toEqual([true, true, true]);
    expect(new Set(seen.slice(0, 6).map((m) => m.load)).size).toBe(3);
  });
});

/**
 * Each XREADGROUP the runtime sends, from MONITOR: `ahead` a read of '>' that does not block (a
 * read ahead); `sent` every read and XAUTOCLAIM in turn ('ahead', 'block', 'own' or 'claim').
 */
async function watchReads(client: Redis): Promise<{ reads: { ahead: boolean; id: string }[]; sent: string[]; stop: () => void }> {
  const monitor = await client.monitor();
  const reads: { ahead: boolean; id: string }[] = [];
  const sent: string[] = [];
  monitor.on('monitor', (_time: string, args: string[]) => {
    const command = args[0]?.toUpperCase();
    if (command === 'XAUTOCLAIM' && args[1] === IN) sent.push('claim');
    if (command !== 'XREADGROUP' || !args.includes(IN)) return;
    const id = args[args.length - 1]!;
    const ahead = id === '>' && !args.some((a) => a.toUpperCase() === 'BLOCK');
    reads.push({ ahead, id });
    sent.push(ahead ? 'ahead' : id === '>' ? 'block' : 'own');
  });
  return { reads, sent, stop: () => monitor.disconnect() };
}

describe('reading the next batch and its state ahead, before a full batch commits', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  let stopWatching = () => undefined as void;

  afterEach(async () => {
    stopWatching();
    await runtime?.stop();
    runtime = undefined;
  });

  /** An overlapping gate whose states are numbered in the order they were asked for; `seen` records each message's. */
  function numberedStates(onLoad: (load: number) => void = () => undefined) {
    const seen: { n: string; id: string; load: number; deliveredWhenLoaded: string }[] = [];
    let loads = 0;
    const handler = withBatchState(
      async (reader) => {
        const load = ++loads;
        onLoad(load);
        const groups = (await reader.eval_ro("return redis.call('XINFO', 'GROUPS', KEYS[1])", 1, IN)) as unknown[][];
        const group = groups.find((g) => g[1] === 'echo')!;
        return { load, deliveredWhenLoaded: String(group[group.indexOf('last-delivered-id') + 1]) };
      },
      (n, id, state) => seen.push({ n, id, ...state }),
    );
    return { handler, seen, loads: () => loads };
  }

  const ns = (count: number) => Array.from({ length: count }, (_, i) => String(i));

  async function drain(count: number, env: Record<string, string>, handler: AnyHandler) {
    const ids = await produce(
      redis.client,
      IN,
      ns(count).map((n) => ({ n })),
    );
    const watch = await watchReads(redis.client);
    stopWatching = watch.stop;
    runtime = await startRuntime(redis.url, { CLAIM_INTERVAL_MS: '600000', ...env }, [handler]);
    await waitFor(async () => (await readStream(redis.client, OUT)).length >= count, { what: `${count} outputs` });
    // The last (not full) batch's commit answered: nothing pending.
    await waitFor(async () => (await pendingCount(redis.client, IN, 'echo')) === 0, { what: 'nothing pending' });
    return { ids, reads: watch.reads, sent: watch.sent };
  }

  it('20 entries in batches of 3: each handled once and committed once, in order; one state read per batch, each read ahead but the first', async () => {
    const { handler, seen, loads } = numberedStates();
    const { reads } = await drain(20, { BATCH_SIZE: '3' }, handler);
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(ns(20));
    // Handled once each: no entry was delivered twice.
    expect(seen.map((m) => m.n)).toEqual(ns(20));
    // Seven batches (six full, the last of two): seven states. The six full batches each read the
    // next ahead; the last, not full, reads nothing ahead.
    expect(loads()).toBe(7);
    expect(reads.filter((r) => r.ahead)).toHaveLength(6);
    // Never our own pending entries again ('0' only at the start, before anything was read).
    expect(reads.filter((r) => r.id === '0')).toHaveLength(1);
    expect(reads[0]).toEqual({ ahead: false, id: '0' });
  });

  it('21 entries in batches of 3: the last full batch reads ahead once more, finding nothing; that state is the only one wasted', async () => {
    const { handler, seen, loads } = numberedStates();
    const { reads } = await drain(21, { BATCH_SIZE: '3' }, handler);
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(ns(21));
    expect(seen.map((m) => m.n)).toEqual(ns(21));
    expect(new Set(seen.map((m) => m.load)).size).toBe(7);
    expect(loads()).toBe(8);
    expect(reads.filter((r) => r.ahead)).toHaveLength(7);
  });

  it("a batch read ahead is handled with the state read with it: batch k sees state k, read after the batch's entries were delivered", async () => {
    const { handler, seen } = numberedStates();
    await drain(20, { BATCH_SIZE: '3' }, handler);
    expect(seen.map((m) => m.load)).toEqual(ns(20).map((n) => Math.floor(Number(n) / 3) + 1));
    for (const { id, deliveredWhenLoaded } of seen) expect(compareStreamIds(id, deliveredWhenLoaded)).toBeLessThanOrEqual(0);
  });

  it('a batch that is not full reads nothing ahead: 3 entries in a batch of 10, one state, no read without BLOCK', async () => {
    const { handler, seen, loads } = numberedStates();
    const { reads } = await drain(3, { BATCH_SIZE: '10' }, handler);
    expect(seen.map((m) => m.n)).toEqual(['0', '1', '2']);
    // Give a wrongly reading-ahead runtime the time to do it.
    await waitFor(() => reads.filter((r) => r.id === '>').length >= 3, { what: 'two more blocking reads' });
    expect(loads()).toBe(1);
    expect(reads.filter((r) => r.ahead)).toEqual([]);
  });

  it('a gate that reads its own writes never reads ahead, even of full batches', async () => {
    const events: string[] = [];
    const { reads } = await drain(9, { BATCH_SIZE: '3' }, echo(events, true));
    expect(events).toEqual(ns(9).map((n) => `handle ${n}`));
    expect(reads.filter((r) => r.ahead)).toEqual([]);
  });

  it.each([2, 4])(
    'stopped as the read ahead for batch %i is sent: that batch is handled and committed, nothing left pending',
    async (stopAt) => {
      let stopping: Promise<void> | undefined;
      const { handler, seen } = numberedStates((load) => {
        // Synchronously inside the read ahead: the runtime stops with that batch asked for.
        if (load === stopAt) stopping = runtime!.stop();
      });
      await produce(
        redis.client,
        IN,
        ns(30).map((n) => ({ n })),
      );
      // Built before it starts: the read ahead can come before start() resolves.
      runtime = await createTestRuntime(redis.url, { BATCH_SIZE: '3', CLAIM_INTERVAL_MS: '600000' }, [handler]);
      await runtime.start();
      await waitFor(() => stopping !== undefined, { what: 'the stop' });
      await stopping;
      runtime = undefined;
      const outputs = (await readStream(redis.client, OUT)).map((e) => e.n);
      // Every batch read, the one read ahead among them, committed once, in order; the rest left in the stream.
      expect(outputs).toEqual(ns(3 * stopAt));
      expect(seen.map((m) => m.n)).toEqual(outputs);
      expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
      const [group] = (await redis.client.xinfo('GROUPS', IN)) as unknown[][];
      expect(group![group!.indexOf('entries-read') + 1]).toBe(3 * stopAt);
    },
  );
  it('a reclaim due while a batch is read ahead: that batch is handled first, and every entry once, in order', async () => {
    // A slow state read: reclaims (every 50 ms) fall due while full batches drain.
    const { handler, seen, loads } = numberedStates();
    const slow = {
      ...handler,
      batch: {
        ...handler.batch!,
        loadState: async (...args: Parameters<NonNullable<AnyHandler['batch']>['loadState'] & {}>) => {
          const state = await handler.batch!.loadState!(...args);
          await new Promise((r) => setTimeout(r, 20));
          return state;
        },
      },
    };
    const { sent } = await drain(20, { BATCH_SIZE: '3', CLAIM_INTERVAL_MS: '50' }, slow);
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(ns(20));
    expect(seen.map((m) => m.n)).toEqual(ns(20));
    expect(seen.map((m) => m.load)).toEqual(ns(20).map((n) => Math.floor(Number(n) / 3) + 1));
    expect(loads()).toBe(7);
    // Some reclaim came while a batch was read ahead (after a read ahead, before the next read).
    const during = sent.findIndex(
      (kind, i) => kind === 'claim' && sent.lastIndexOf('ahead', i) > sent.lastIndexOf('block', i) && sent.slice(0, i).includes('ahead'),
    );
    expect(during).toBeGreaterThan(0);
  });

  it('the group destroyed while a full batch is handled (its read ahead and commit refused): the group is created again, every entry once, in order', async () => {
    const events: string[] = [];
    let destroyed = false;
    const handler = echoGate({
      input: IN,
      output: OUT,
      readsOwnWrites: false,
      before: async (message) => {
        if (message.n === '6' && !destroyed) {
          destroyed = true;
          await redis.client.xgroup('DESTROY', IN, 'echo');
        }
        events.push(`handle ${message.n}`);
      },
    });
    const { sent } = await drain(20, { BATCH_SIZE: '3', DLQ_STREAM: 'test:stream:overlap-dlq' }, handler);
    expect(destroyed).toBe(true);
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(ns(20));
    expect(await redis.client.xlen('test:stream:overlap-dlq')).toBe(0);
    // Batch 3 was handled again in the new group; nothing else was.
    expect(events.filter((e) => e === 'handle 6')).toHaveLength(2);
    expect(events.filter((e) => e === 'handle 9')).toHaveLength(1);
    expect(sent).toContain('ahead');
  });
});

describe('a batch read ahead just after the reader reconnected', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;

  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  /** The ids of the gate's reader connections Redis lists now. */
  async function readerIds(): Promise<string[]> {
    const list = (await redis.client.call('CLIENT', 'LIST')) as string;
    return list
      .split('\n')
      .filter((line) => /name=quantum-gates:echo:read( |$)/.test(line))
      .map((line) => /id=(\d+)/.exec(line)![1]!);
  }

  it("reads its state after its entries were delivered, as any batch's", async () => {
    const seen: { n: string; id: string; deliveredWhenLoaded: string }[] = [];
    let killed = false;
    const handler = echoGate({
      input: IN,
      output: OUT,
      readsOwnWrites: false,
      loadState: async (reader: RedisReader) => {
        const groups = (await reader.eval_ro("return redis.call('XINFO', 'GROUPS', KEYS[1])", 1, IN)) as unknown[][];
        const group = groups.find((g) => g[1] === 'echo')!;
        return { deliveredWhenLoaded: String(group[group.indexOf('last-delivered-id') + 1]) };
      },
      before: async (message, ctx) => {
        if (message.n === '0' && !killed) {
          killed = true;
          // The reader's connection drops and comes back while the first (full) batch is handled.
          const [before] = await readerIds();
          await redis.client.call('CLIENT', 'KILL', 'ID', before!);
          await waitFor(async () => (await readerIds()).some((id) => id !== before), { what: 'the reader connected again' });
        }
        seen.push({ n: message.n, id: ctx.meta.id, ...ctx.state });
      },
    });
    await produce(
      redis.client,
      IN,
      ['0', '1', '2', '3', '4', '5'].map((n) => ({ n })),
    );
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '3', CLAIM_INTERVAL_MS: '600000' }, [handler]);
    await waitFor(async () => (await readStream(redis.client, OUT)).length >= 6, { what: 'six outputs' });
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(['0', '1', '2', '3', '4', '5']);
    // A new connection's CLIENT ID is not known yet: no read ahead then, or its state's read would go
    // out while the id is asked, ahead of the XREADGROUP (batch 2's state read when batch 1's last id was the last delivered).
    for (const { id, deliveredWhenLoaded } of seen) expect(compareStreamIds(id, deliveredWhenLoaded)).toBeLessThanOrEqual(0);
  });

  it('dropped for the outage that follows, its read does not go out after the re-read of the pending list', async () => {
    let killed = false;
    const handler = echoGate({
      input: IN,
      output: OUT,
      readsOwnWrites: false,
      before: async (message) => {
        if (message.n === '0' && !killed) {
          killed = true;
          // The reader's connection drops while the first (full) batch is handled, and is still
          // reconnecting (a 50 ms pause) when that batch's read ahead is asked for.
          const [before] = await readerIds();
          await redis.client.call('CLIENT', 'KILL', 'ID', before!);
          await waitFor(async () => !(await readerIds()).includes(before!), { what: 'the reader gone' });
        }
      },
    });
    await produce(
      redis.client,
      IN,
      ['0', '1', '2', '3', '4', '5'].map((n) => ({ n })),
    );
    // Nothing reclaimed within the test: an entry left pending stays so. A read ahead that waited for
    // the new connection's CLIENT ID sent its XREADGROUP after the re-read of '0' that follows the
    // outage; batch 2 was delivered to nobody and stayed pending (delivery count 1) until an
    // XAUTOCLAIM after CLAIM_IDLE_MS, then committed late and out of order.
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '3', CLAIM_INTERVAL_MS: '600000', CLAIM_IDLE_MS: '600000' }, [handler]);
    await waitFor(async () => (await readStream(redis.client, OUT)).length >= 6, { what: 'six outputs', timeoutMs: 5000 });
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
  });
});
