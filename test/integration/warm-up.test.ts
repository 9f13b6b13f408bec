import { Redis } from 'ioredis';
import * as z from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { positionSnapshot } from '../../handlers/position-snapshot.js';
import { defineHandler } from '../../runtime/contract/index.js';
import { createLogger } from '../../runtime/engine/logger.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';
import type { Runtime } from '../../runtime/host/runtime.js';

/** One clock for both runtimes: every time a gate writes or measures is then the same in both. */
const NOW = Date.now();
const PROPOSALS = 300;
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'DOGEUSDT'];

/** The same input in each database: equity, snapshots and proposals with ids of their own (so their times match too). */
async function arrange(client: Redis): Promise<void> {
  const at = NOW - 60_000;
  await client.hset(keys.portfolioState, 'equity_usd', '10000.00', 'timestamp', String(Math.floor(at / 1000)));
  // The snapshot group exists before either gate starts, so the heat gate's book reads it the same way in both.
  await client.xgroup('CREATE', streams.positionSnapshot, 'position_snapshot', '0', 'MKSTREAM');
  const pipeline = client.pipeline();
  SYMBOLS.forEach((symbol, i) =>
    pipeline.xadd(
      streams.positionSnapshot,
      `${at}-${i}`,
      'symbol',
      symbol,
      'position_notional_usd',
      String(500 + 100 * i),
      'sigma',
      '0.04',
    ),
  );
  for (let n = 0; n < PROPOSALS; n++) {
    const symbol = SYMBOLS[n % SYMBOLS.length]!;
    const action = n % 3 === 0 ? 'PARTIAL_50' : 'FULL_CLOSE';
    pipeline.xadd(streams.harvestProposal, `${at + 1}-${n}`, 'plan_id', `p-${n}`, 'symbol', symbol, 'action', action, 'trace_id', `t-${n}`);
  }
  await pipeline.exec();
}

/** Everything a gate left in a database, keyed by key: stream entries' fields (their ids are Redis's clock), hashes, sets, strings. */
async function contents(client: Redis, consumer: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  // Runtime bookkeeping named after the consumer (its health probe, its commits' order) differs by name only.
  const names = (await client.keys('*')).filter((key) => !key.includes(consumer)).sort();
  for (const key of names) {
    const type = await client.type(key);
    if (type === 'stream') out[key] = (await client.xrange(key, '-', '+')).map(([, fields]) => fields);
    else if (type === 'hash') out[key] = await client.hgetall(key);
    else if (type === 'set') out[key] = (await client.smembers(key)).sort();
    else if (type === 'string') out[key] = await client.get(key);
    else out[key] = type;
  }
  return out;
}

/** The gates' own series and the runtime's message counts: what the warm-up must not move. */
async function countedMetrics(runtime: Runtime): Promise<string[]> {
  const text = await runtime.services.registry.metrics();
  return text
    .split('\n')
    .filter((line) => /^(p26_|quantum_position_|quantum_gates_(messages|dead_letters|retries|conflicts|commit_failures))/.test(line));
}

describe('start-up warm-up on a real Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('a runtime warmed up writes byte for byte what one without a warm-up writes, and counts the same', async () => {
    const runs: { contents: Record<string, unknown>; metrics: string[] }[] = [];
    for (const [db, warmUpMs] of [
      [1, '200'],
      [2, '0'],
    ] as const) {
      const client = new Redis(`${redis.url}/${db}`);
      await arrange(client);
      const consumer = `warm-up-test-${db}`;
      const lines: string[] = [];
      const logger = createLogger('debug', 'quantum-gates', {}, { format: 'json', output: { write: (line) => lines.push(line) } });
      const runtime = await createTestRuntime(
        `${redis.url}/${db}`,
        { QG_WARMUP_MS: warmUpMs, CONSUMER_NAME: consumer, HANDLERS: 'position-snapshot,heat-gate', BATCH_SIZE: '50' },
        [positionSnapshot, heatGate],
        { now: () => NOW, logger },
      );
      try {
        await runtime.start();
        await waitFor(async () => (await client.xlen(streams.heatDecision)) === PROPOSALS, { what: `${PROPOSALS} decisions in db ${db}` });
        await waitFor(async () => (await client.exists(keys.position('DOGEUSDT'))) === 1, { what: 'the snapshots applied' });
        runs.push({ contents: await contents(client, consumer), metrics: await countedMetrics(runtime) });
        // One line says what the warm-up ran; none comes from inside it (its gates' DOWNGRADE lines among them).
        expect(lines.filter((line) => line.includes('warmed up')).length).toBe(warmUpMs === '0' ? 0 : 1);
        expect(lines.filter((line) => line.includes('"warmUp":true'))).toEqual([]);
      } finally {
        await runtime.stop();
        client.disconnect();
      }
    }
    const [warmed, cold] = runs;
    expect(Object.keys(warmed!.contents)).toContain(streams.harvestCalibrated);
    expect(JSON.stringify(warmed!.contents)).toBe(JSON.stringify(cold!.contents));
    expect(warmed!.metrics).toContain('p26_proposals_processed_total 300');
    // The same series with the same counts. Not in the same order: a metric lists its label sets in
    // the order they were first counted, and the two gates' first batches race (which handler's
    // `quantum_gates_messages_total` line comes first is the race's, not the warm-up's).
    expect([...warmed!.metrics].sort()).toEqual([...cold!.metrics].sort());
  });

  it('/ready answers 503 while the warm-up runs, and 200 once it has ended and the gates read', async () => {
    // A gate whose sample's first message is held until the test lets it go: the warm-up is then
    // known to be under way, with no clock involved.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let heldSince: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (heldSince = resolve));
    const holding = defineHandler({
      name: 'holding',
      description: 'holds its first warm-up message',
      trigger: { kind: 'stream', stream: () => 'test:warm-up:holding', group: () => 'holding' },
      input: z.looseObject({ hold: z.string() }),
      config: () => ({}),
      metrics: () => ({}),
      failure: { maxAttempts: 1, backoffMs: 1, policy: 'dead-letter' },
      warmUp: () => ({ entry: (n) => ({ hold: n === 0 ? 'yes' : 'no' }) }),
      handle(message) {
        if (message.hold !== 'yes') return;
        heldSince?.();
        return released;
      },
    });
    const runtime = await createTestRuntime(redis.url, { QG_WARMUP_MS: '1', HANDLERS: 'holding', BATCH_SIZE: '5' }, [holding]);
    const started = runtime.start();
    try {
      await held;
      const address = runtime.server.server.address();
      if (address === null || typeof address === 'string') throw new Error('not listening on a port');
      const ready = () => fetch(`http://127.0.0.1:${address.port}/ready`);
      const during = await ready();
      expect(during.status).toBe(503);
      expect(await during.json()).toMatchObject({ status: 'not_ready', cause: 'starting' });
      release();
      await started;
      expect((await waitFor(async () => ((await ready()).status === 200 ? 200 : undefined), { what: '/ready 200' })) as number).toBe(200);
      // Nothing of the warm-up reached the stream, its group or the dead letters.
      expect(await redis.client.xlen('test:warm-up:holding')).toBe(0);
      expect(await redis.client.exists('quantum:stream:dlq')).toBe(0);
    } finally {
      release();
      await started.catch(() => undefined);
      await runtime.stop();
    }
  });
});
