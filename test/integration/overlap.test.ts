import * as z from 'zod';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import type { CommitItem } from '../../runtime/engine/delivery.js';
import { parseEnv } from '../../schemas/env.js';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';

const IN = 'test:stream:overlap-in';
const OUT = 'test:stream:overlap-out';

function echo(events: string[], readsOwnWrites: boolean | undefined): AnyHandler {
  return defineHandler({
    name: 'echo',
    description: 'test handler that logs when it runs',
    trigger: { kind: 'stream', stream: () => IN, group: () => 'echo' },
    input: z.looseObject({ n: z.string() }),
    config: (env) => parseEnv(z.object({}), env),
    metrics: () => ({}),
    ...(readsOwnWrites === undefined ? {} : { batch: { readsOwnWrites } }),
    failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
    handle(message, ctx) {
      events.push(`handle ${message.n}`);
      ctx.emit(OUT, { n: message.n });
    },
  });
}

/** A handler that never reads its own writes, with a batch state from `loadState`; `seen` sees each message with it. */
function withBatchState<State>(
  loadState: (reader: RedisReader) => Promise<State>,
  seen: (n: string, id: string, state: State) => void = () => undefined,
): AnyHandler {
  return defineHandler({
    name: 'echo',
    description: 'test handler with batch state',
    trigger: { kind: 'stream', stream: () => IN, group: () => 'echo' },
    input: z.looseObject({ n: z.string() }),
    config: (env) => parseEnv(z.object({}), env),
    metrics: () => ({}),
    batch: { readsOwnWrites: false, loadState },
    failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
    handle(message, ctx) {
      seen(message.n, ctx.meta.id, ctx.state as State);
      ctx.emit(OUT, { n: message.n });
    },
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
