import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { buildInfo } from '../../app/build-info.js';
import { createRuntime, type Runtime } from '../../runtime/host/runtime.js';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { pendingCount, produce, seedPortfolio, waitFor } from './support/streams.js';

const GROUP = 'p26_heat_gate';

/** Field names the schema and the runtime care about, mixed with arbitrary ones. */
const fieldName = fc.oneof(
  fc.constantFrom('plan_id', 'symbol', 'action', 'harvest_action', 'trace_id', 'reason', '__proto__', 'constructor', 'toString', ''),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const fieldValue = fc.oneof(
  fc.constantFrom('ETHUSDT', 'BTCUSDT', 'FULL_CLOSE', 'PARTIAL_25', 'PARTIAL_50', 'full_close', '', ' ', 'NaN', '1e309', '-0'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ minLength: 150, maxLength: 1200 }),
);
/** Valid-looking proposals with arbitrary extra or overriding fields, and plain arbitrary maps. */
const entry = fc.oneof(
  fc
    .record({
      plan_id: fc.string({ minLength: 1, maxLength: 30 }),
      symbol: fc.constantFrom('ETHUSDT', 'BTCUSDT', 'x'),
      action: fc.constantFrom('FULL_CLOSE', 'PARTIAL_75', 'bad'),
    })
    .chain((base) => fc.dictionary(fieldName, fieldValue, { maxKeys: 4 }).map((extra) => ({ ...base, ...extra }))),
  fc.dictionary(fieldName, fieldValue, { minKeys: 1, maxKeys: 8 }),
);

describe('arbitrary field maps through the runtime path', () => {
  let redis: TestRedis;
  let runtime: Runtime;

  beforeAll(async () => {
    redis = await startTestRedis();
    await seedPortfolio(redis.client);
    runtime = await createRuntime({
      build: buildInfo(),
      env: {
        REDIS_URL: redis.url,
        PORT: '0',
        LOG_LEVEL: 'silent',
        HANDLERS: 'heat-gate',
        BLOCK_MS: '50',
        CONSUMER_NAME: `chaos-property-${process.pid}`,
      },
      handlers: allHandlers,
    });
    await runtime.start();
  });
  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  it('never crashes; every entry ends acknowledged with an output, dead-lettered or counted unusable', async () => {
    const r = redis.client;
    let inputs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 40 }), async (batch) => {
        // XADD needs at least one field; own keys only (a '__proto__' key must be a field, not a prototype).
        const fieldMaps = batch.map((fields) => Object.fromEntries(Object.entries(fields))).filter((f) => Object.keys(f).length > 0);
        await produce(r, streams.harvestProposal, fieldMaps);
        inputs += fieldMaps.length;
        // An entry a real producer writes that no gate can use (no action field, NOOP, another heat
        // gate's decision) is acknowledged and counted, neither output nor dead letter (issue #22).
        const unusable = async () =>
          (await runtime.services.registry.getSingleMetric('quantum_gates_messages_total')?.get())?.values
            .filter((v) => v.labels.handler === 'heat-gate' && v.labels.outcome === 'unusable')
            .reduce((sum, v) => sum + v.value, 0) ?? 0;
        const ended = async () => (await r.xlen(streams.harvestCalibrated)) + (await r.xlen(streams.deadLetter)) + (await unusable());
        await waitFor(async () => (await ended()) >= inputs, { what: `outputs + dead letters + unusable = ${inputs}`, timeoutMs: 20_000 });
        // Each output, dead letter and unusable count came of a commit that acknowledged its entry.
        expect(await pendingCount(r, streams.harvestProposal, GROUP)).toBe(0);
        expect(await ended()).toBe(inputs);
        expect(runtime.readiness().ready).toBe(true);
      }),
      { numRuns: 100 },
    );
    expect(await r.xlen(streams.harvestProposal)).toBe(inputs);
    console.info(
      `[chaos] property: ${inputs} arbitrary entries over 100 runs; outputs ${await r.xlen(streams.harvestCalibrated)}, dead letters ${await r.xlen(streams.deadLetter)}, 0 pending`,
    );
  });
});
