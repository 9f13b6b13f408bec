import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRuntimeConfig } from '../../runtime/host/config.js';
import { connectRedis, waitUntilReady, type RedisClient } from '../../runtime/host/redis.js';
import { usePrivateCommitter } from '../support/decide-once.js';
import { decide, faultsOf, fitted, worldsOf, type Applied, type Decided } from '../support/fault-worlds.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { familyName } from '../support/single-faults.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * A connection lost in the middle of a decision's reads never changes the decision. The worlds of
 * the one-fault property (test/support/fault-worlds.ts: every producer and layout, a key of another
 * type among the faults) are decided twice through the gates' real path, their reads sent on the
 * runtime's own handler connection (connectRedis 'commands': auto-pipelined, nothing re-sent) through
 * a proxy: once whole, then with the connection closed after a drawn number of the bytes the whole
 * decision's replies took, anywhere in them: before the first reply, between two, inside one, inside
 * the batch script's reply. The client reports such a loss in words of its own ("Connection is
 * closed.", and for an auto-pipelined command behind one whose reply arrived, "Command aborted due to
 * connection close"); every one of them must be read as Redis's state, so the try is held (never
 * charged, never a key "unreadable" or "absent") and the decision made once Redis answers again is
 * the whole one, field for field.
 * QG_CUT_RUNS (default 150) and QG_CUT_SEED choose how many cases and which.
 */

const RUNS = Number(process.env.QG_CUT_RUNS ?? 150);
const SEED = Number(process.env.QG_CUT_SEED ?? 63);

/** The decision's entry without what differs between two commits of it: its stream id, and the trace id each decision draws. */
const decisionOf = (d: Decided) => {
  const { _id: _ignored, ...fields } = d.entry;
  const untraced = Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, k === 'trace_id' ? 'drawn' : v.replace(/"trace_id":"[^"]*"/g, '"trace_id":"drawn"')]),
  );
  return { gate: d.gate, attempts: d.attempts, fields: untraced };
};

describe('a connection lost at any byte of a decision’s replies', () => {
  const redis = usePrivateRedis();
  const commits = usePrivateCommitter(redis);
  let proxy: TcpProxy;
  let reader: RedisClient;

  beforeAll(async () => {
    proxy = await startTcpProxy({ port: Number(new URL(redis.url).port) });
    reader = connectRedis(parseRuntimeConfig({ REDIS_URL: proxy.url }), 'commands', 'test:cut-reader');
    await waitUntilReady(reader);
  });
  afterAll(async () => {
    reader?.disconnect();
    await proxy?.close();
  });

  it(`decides as with the connection whole, each try it cut held uncharged, over ${RUNS} worlds (seed ${SEED})`, async () => {
    let cuts = 0;
    let uncut = 0;
    await fc.assert(
      fc.asyncProperty(
        worldsOf(['open', 'close', 'proposal']),
        fc.option(faultsOf([]), { nil: undefined }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (drawn, f, chunkAt, at) => {
          const { world: w, family, symbol } = f === undefined ? { world: drawn, family: undefined, symbol: undefined } : fitted(drawn, f);
          const applied: Applied | undefined = family === undefined ? undefined : { family, symbol, share: f!.share };
          const now = Date.now();
          for (const m of w.messages) {
            const before = proxy.chunksToClient.length;
            const whole = await decide(redis.client, commits.committer, w, m, now, applied, reader as Redis);
            // The cut falls in a drawn round trip's replies (each usually one chunk), anywhere in them:
            // drawn by bytes, most cuts would fall in the book script's large reply.
            const chunks = proxy.chunksToClient.slice(before);
            const inChunk = Math.min(chunks.length - 1, Math.floor(chunkAt * chunks.length));
            const cutAfter = chunks.slice(0, inChunk).reduce((sum, n) => sum + n, 0) + Math.floor(at * chunks[inChunk]!);
            const bytes = chunks.reduce((sum, n) => sum + n, 0);
            proxy.cutAfter(cutAfter);
            const lost = await decide(redis.client, commits.committer, w, m, now, applied, reader as Redis);
            const story = JSON.stringify({ family: family && familyName(family), symbol, world: w, message: m, bytes, cutAfter });
            expect(decisionOf(lost), story).toEqual(decisionOf(whole));
            // A cut drawn within the last few bytes may fall past the end: INFO memory's reply (the
            // governor's eviction check) is a few bytes longer or shorter from one read to the next.
            if (proxy.uncut()) uncut += 1;
            else cuts += 1;
          }
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: false },
    );
    expect(uncut, `${cuts} decisions cut, ${uncut} not`).toBeLessThanOrEqual(cuts / 10);
  }, 600_000);
});
