import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import type { CommitItem } from '../../runtime/engine/delivery.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { echoGate } from '../support/echo-gate.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { pendingCount, produce, readStream, startRuntime } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

const IN = 'test:stream:batch-order-in';
const OUT = 'test:stream:batch-order-out';

const numbers = (items: readonly CommitItem[]) =>
  items.map((item) => (item.recorder?.effects[0] as { fields: { n: string } } | undefined)?.fields.n).join(',');

/** What the runtime did, in order; `until` resolves once `event` is logged (at once if it is already). */
function eventLog() {
  const events: string[] = [];
  const waiters = new Map<string, () => void>();
  const log = (event: string) => {
    events.push(event);
    waiters.get(event)?.();
    waiters.delete(event);
  };
  const until = (event: string) =>
    events.includes(event) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(event, resolve));
  return { events, log, until };
}

/** Commits through a real TransactionCommitter, logging each commit and holding the first until released. */
function heldFirstCommit(log: (event: string) => void) {
  let release = () => undefined as void;
  const released = new Promise<void>((r) => (release = r));
  let first = true;
  const factory = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
    const inner = new TransactionCommitter(connection, 0);
    return {
      async commit(source, items) {
        log(`commit ${numbers(items)} begins`);
        if (first) {
          first = false;
          await released;
        }
        const report = await inner.commit(source, items);
        log(`commit ${numbers(items)} ends`);
        return report;
      },
    };
  };
  return { factory, release };
}

describe('one batch in hand: handled, committed, then the next read', () => {
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

  async function run() {
    const { events, log, until } = eventLog();
    const held = heldFirstCommit(log);
    releaseHeld = held.release;
    const gate = echoGate({ input: IN, output: OUT, before: (message) => log(`handle ${message.n}`) });
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '2' }, [gate], { committerFactory: held.factory });
    return { events, until, release: held.release };
  }

  it('a batch is handled only after the previous one committed; commits apply in order', async () => {
    const { events, until, release } = await run();
    await until('commit 0,1 begins');
    release();
    await untilStreamLength(redis.client, OUT, 6, { what: 'six outputs' });
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(['0', '1', '2', '3', '4', '5']);
    await until('commit 4,5 ends');
    expect(events).toEqual([
      'handle 0',
      'handle 1',
      'commit 0,1 begins',
      'commit 0,1 ends',
      'handle 2',
      'handle 3',
      'commit 2,3 begins',
      'commit 2,3 ends',
      'handle 4',
      'handle 5',
      'commit 4,5 begins',
      'commit 4,5 ends',
    ]);
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
  });

  it('stopping while a commit is in flight finishes it, and reads nothing more', async () => {
    const { events, until, release } = await run();
    await until('commit 0,1 begins');
    const stopped = runtime!.stop();
    release();
    await stopped;
    runtime = undefined;
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(['0', '1']);
    expect(events).not.toContain('handle 2');
    expect(await pendingCount(redis.client, IN, 'echo')).toBe(0);
  });

  it("reads a batch's state after its entries were delivered, once per batch", async () => {
    const seen: { id: string; n: string; load: number; deliveredWhenLoaded: string }[] = [];
    let loads = 0;
    const gate = echoGate({
      input: IN,
      output: OUT,
      loadState: async (reader: RedisReader) => {
        const load = ++loads;
        // Through the reader the runtime hands over, as a real gate reads its state.
        const groups = (await reader.xinfo('GROUPS', IN)) as unknown[][];
        const group = groups.find((g) => g[1] === 'echo')!;
        return { load, deliveredWhenLoaded: String(group[group.indexOf('last-delivered-id') + 1]) };
      },
      before: (message, ctx) => void seen.push({ id: ctx.meta.id, n: message.n, ...ctx.state }),
    });
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '2', CLAIM_INTERVAL_MS: '600000' }, [gate]);
    await untilStreamLength(redis.client, OUT, 6, { what: 'six outputs' });
    await produce(redis.client, IN, [{ n: '6' }, { n: '7' }]);
    await untilStreamLength(redis.client, OUT, 8, { what: 'eight outputs' });
    expect(seen.map((m) => m.n)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    // Never older than the entries: each state was read after its batch was delivered.
    for (const { id, deliveredWhenLoaded } of seen) expect(compareStreamIds(id, deliveredWhenLoaded)).toBeLessThanOrEqual(0);
    // One state per batch, shared by its messages (6 and 7 may come in one batch or two).
    expect(seen.slice(0, 6).map((m) => m.load)).toEqual([1, 1, 2, 2, 3, 3]);
  });

  it('the group destroyed while a batch is handled: the group is created again, every entry once, in order', async () => {
    const events: string[] = [];
    let destroyed = false;
    const gate = echoGate({
      input: IN,
      output: OUT,
      before: async (message) => {
        if (message.n === '2' && !destroyed) {
          destroyed = true;
          await redis.client.xgroup('DESTROY', IN, 'echo');
        }
        events.push(`handle ${message.n}`);
      },
    });
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '2', DLQ_STREAM: 'test:stream:batch-order-dlq' }, [gate]);
    await untilStreamLength(redis.client, OUT, 6, { what: 'six outputs' });
    expect(destroyed).toBe(true);
    expect((await readStream(redis.client, OUT)).map((e) => e.n)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(await redis.client.xlen('test:stream:batch-order-dlq')).toBe(0);
    // The batch in hand was handled again in the new group; nothing else was.
    expect(events.filter((e) => e === 'handle 2')).toHaveLength(2);
    expect(events.filter((e) => e === 'handle 4')).toHaveLength(1);
  });
});
