import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { echoGate } from '../support/echo-gate.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { killGateConnections } from './support/kill-connections.js';
import { duplicates } from './support/streams.js';

const IN = 'test:stream:read-ahead-in';
const OUT = 'test:stream:read-ahead-out';
const DLQ = 'test:stream:read-ahead-dlq';
const BACKLOG = 4000;

/**
 * A gate that never reads its own writes reads the next batch and its state before a full batch's
 * commit goes out (runtime/sources/stream-consumer.ts, readAhead). When a connection drops, the batch
 * read ahead is dropped and its entries, still pending for the consumer, are read again from its
 * pending list: here connections are killed again and again while such a gate drains full batches.
 */
describe('batches read ahead while connections are killed (chaos)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;

  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  /** An overlapping gate with a state read through the reader; `loads` counts the state reads. */
  function overlapping(onLoad: (load: number) => void = () => undefined) {
    const counts = { loads: 0, handled: 0 };
    const handler = echoGate({
      input: IN,
      output: OUT,
      readsOwnWrites: false,
      loadState: async (reader) => {
        counts.loads += 1;
        onLoad(counts.loads);
        return reader.get('test:read-ahead-state');
      },
      maxAttempts: 3,
      before: () => void (counts.handled += 1),
    });
    return { handler, counts };
  }

  /** CLIENT KILL of the gate's reader connection (where the reads ahead and their states go); the number killed. */
  async function killReader(): Promise<number> {
    const list = (await redis.client.call('CLIENT', 'LIST')) as string;
    let killed = 0;
    for (const line of list.split('\n').filter((l) => /name=quantum-gates:echo:read( |$)/.test(l))) {
      await redis.client.call('CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!).catch(() => undefined);
      killed += 1;
    }
    return killed;
  }

  async function drainWhileKilling(kill: () => Promise<number>, everyMs: number, onLoad?: (load: number) => void) {
    const ns = Array.from({ length: BACKLOG }, (_, i) => String(i));
    await produce(
      redis.client,
      IN,
      ns.map((n) => ({ n })),
    );
    const { handler, counts } = overlapping(onLoad);
    runtime = await startRuntime(
      redis.url,
      // Full batches of 10; a reclaim pass every 200 ms (a batch read ahead is handled before it).
      { BATCH_SIZE: '10', CLAIM_INTERVAL_MS: '200', DLQ_STREAM: DLQ, COMMIT_BACKOFF_MAX_MS: '100' },
      [handler],
    );
    await waitFor(async () => (await redis.client.xlen(OUT)) > 0, { what: 'the drain under way' });
    let killed = 0;
    while ((await redis.client.xlen(OUT)) < BACKLOG * 0.9) {
      killed += await kill();
      await new Promise((r) => setTimeout(r, everyMs));
    }
    await waitFor(async () => (await redis.client.xlen(OUT)) >= BACKLOG, { what: 'every entry committed', timeoutMs: 30_000 });
    await waitFor(async () => (await pendingCount(redis.client, IN, 'echo')) === 0, { what: 'nothing pending' });
    const outputs = (await readStream(redis.client, OUT)).map((e) => e.n ?? '');
    expect(duplicates(outputs)).toEqual([]);
    // None missing, and in the stream's order: no batch's outputs landed after those of a batch behind it.
    expect(outputs).toHaveLength(BACKLOG);
    const firstOutOfOrder = outputs.findIndex((n, i) => n !== ns[i]);
    expect(firstOutOfOrder === -1 ? [] : outputs.slice(firstOutOfOrder, firstOutOfOrder + 12)).toEqual([]);
    expect(await redis.client.xlen(DLQ)).toBe(0);
    return { killed, counts };
  }

  it('every gate connection killed every 40 ms: each entry committed once, in order, none dead-lettered', async () => {
    const { killed, counts } = await drainWhileKilling(() => killGateConnections(redis.client), 40);
    expect(killed).toBeGreaterThan(5);
    // A state per batch at least (400 batches of 10), some read ahead for a batch then dropped.
    expect(counts.loads).toBeGreaterThanOrEqual(BACKLOG / 10);
    console.info(
      `[chaos] read ahead, gate connections killed ${killed} times: ${counts.handled} handled, ${counts.loads} states, 0 lost, 0 duplicates`,
    );
  }, 60_000);

  it('the reader connection (reads ahead, states) killed every 25 ms: each entry committed once, in order, none dead-lettered', async () => {
    const { killed, counts } = await drainWhileKilling(killReader, 25);
    expect(killed).toBeGreaterThan(5);
    console.info(
      `[chaos] read ahead, reader killed ${killed} times: ${counts.handled} handled, ${counts.loads} states, 0 lost, 0 duplicates`,
    );
  }, 60_000);

  it('the reader killed as every 7th state is asked for (most of them reads ahead): each entry committed once, in order, none dead-lettered', async () => {
    let killedInRead = 0;
    const { counts } = await drainWhileKilling(
      async () => 0,
      25,
      (load) => {
        if (load % 7 !== 0) return;
        killedInRead += 1;
        void killReader();
      },
    );
    expect(killedInRead).toBeGreaterThan(5);
    console.info(
      `[chaos] read ahead, reader killed in ${killedInRead} state reads: ${counts.handled} handled, ${counts.loads} states, 0 lost, 0 duplicates`,
    );
  }, 60_000);
});
