import { afterEach, describe, expect, it, vi } from 'vitest';
import { heatGate } from '../../handlers/heat-gate/index.js';
import type { HeatInputs } from '../../handlers/positions/heat.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { directReads, executeBatch, type DecisionEnv } from '../../runtime/engine/execute.js';
import { applyMetricCalls } from '../../runtime/engine/metrics.js';
import { keys, streams } from '../../schemas/keys.js';
import { RecordedMetrics, fakeCtx, recordingMetricFactory } from '../support/fake-ctx.js';
import { FakeRedisReader, type FakeRedisData } from '../support/fake-redis-reader.js';
import { silentLogger } from '../support/execution-env.js';

const NOW = 1_800_000_000_000;
const config = heatGate.config({});

/** A 200 USD long of ETHUSDT without sigma (heat 0: COLD, so a FULL_CLOSE is downgraded), its market state at `mark`, `ageMs` old. */
function cold(mark: string, ageMs: number, extra: Record<string, Record<string, string>> = {}): FakeRedisData {
  return {
    hashes: {
      [keys.portfolioState]: { equity_usd: '10000' },
      [keys.position('ETHUSDT')]: { symbol: 'ETHUSDT', position_notional_usd: '200', side: 'LONG', updated_at: String(NOW - 1000) },
      [keys.marketState('ETHUSDT')]: { mark_price: mark, timestamp: String(NOW - ageMs) },
      ...extra,
    },
    sets: { [keys.activePositions]: ['ETHUSDT'] },
  };
}

/** The gate's batch state, loaded as the runtime does (batch.loadState) from `data`. */
async function stateOf(data: FakeRedisData): Promise<HeatInputs> {
  return (await heatGate.batch!.loadState!(new FakeRedisReader(data), config, NOW)) as HeatInputs;
}

/** Every read a FakeRedisReader answers from now on, as [method, first argument]. */
function watchReads(): [string, unknown][] {
  const reads: [string, unknown][] = [];
  for (const method of Object.getOwnPropertyNames(FakeRedisReader.prototype)) {
    if (method === 'constructor') continue;
    const original = (FakeRedisReader.prototype as unknown as Record<string, (...args: unknown[]) => unknown>)[method]!;
    vi.spyOn(FakeRedisReader.prototype as unknown as Record<string, (...args: unknown[]) => unknown>, method).mockImplementation(function (
      this: FakeRedisReader,
      ...args: unknown[]
    ) {
      reads.push([method, args[0]]);
      return original.apply(this, args);
    });
  }
  return reads;
}

/** Runs the gate's handle on a FULL_CLOSE of `symbol` with `state`, over Redis holding `redis`; the decision's debug_json and the reads it made. */
async function decide(symbol: string, state: HeatInputs, redis: FakeRedisData) {
  const run = await fakeCtx(heatGate, { state, redis, now: NOW, meta: { raw: { plan_id: 'p1', symbol, action: 'FULL_CLOSE' } } });
  const message = heatGate.input.parse({ plan_id: 'p1', symbol, action: 'FULL_CLOSE' });
  const reads = watchReads();
  await (heatGate as AnyHandler).handle(message, run.ctx);
  const decision = run.emitted(streams.heatDecision)[0]!;
  expect(decision.out_action).toBe('PARTIAL_25');
  run.commit();
  return { debug: JSON.parse(decision.debug_json!) as Record<string, unknown>, reads, run };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the heat gate's decision mark from the batch state's quotes", () => {
  it('a downgrade of a book symbol is priced from the quotes loaded with the batch state, at once, with no read of its own', async () => {
    // The state was loaded when the market state said 100; Redis says 999 by the time the message is handled.
    const state = await stateOf(cold('100', 200));
    expect(state.quotes?.has('ETHUSDT')).toBe(true);
    const { debug, reads } = await decide('ETHUSDT', state, cold('999', 100));
    expect(debug).toMatchObject({ mark: 100, mark_source: 'market_state', mark_at: NOW - 200, mark_age_ms: 200, position_usd: 200 });
    expect(reads).toEqual([]);
  });

  it("the freshest of the state's quotes prices it: the ticker's, loaded with the state", async () => {
    const state = await stateOf(cold('100', 5000, { [keys.ticker('ETHUSDT')]: { markPrice: '101', timestamp: String(NOW - 300) } }));
    const { debug, reads } = await decide('ETHUSDT', state, cold('999', 100));
    expect(debug).toMatchObject({ mark: 101, mark_source: 'ticker', mark_age_ms: 300 });
    expect(reads).toEqual([]);
  });

  it('a quote stamped ahead beyond the skew is no mark: counted reason="future" by source and logged', async () => {
    // The price feed's ticker (microservices/price_feed at 73fab1f55, `publish_price`) stamped 10 min ahead.
    const state = await stateOf(cold('100', 200, { [keys.ticker('ETHUSDT')]: { markPrice: '1', timestamp: String(NOW + 600_000) } }));
    const { debug, run } = await decide('ETHUSDT', state, cold('999', 100));
    expect(debug).toMatchObject({ mark: 100, mark_source: 'market_state' });
    expect(run.metrics.get('p26_price_quotes_refused_total', { source: 'ticker', reason: 'future' })).toBe(1);
    expect(run.logs.find((l) => l.msg?.includes('PRICE_MAX_SKEW_SEC'))?.obj).toMatchObject({
      symbol: 'ETHUSDT',
      source: 'ticker',
      ahead_ms: 600_000,
    });
  });

  it('a symbol whose quotes are not in the state is priced by reading them', async () => {
    // The book's symbol, but a state without its quotes.
    const state = { ...(await stateOf(cold('100', 200))), quotes: new Map() };
    const { debug, reads } = await decide('ETHUSDT', state, cold('999', 100));
    expect(debug).toMatchObject({ mark: 999, mark_source: 'market_state', mark_age_ms: 100 });
    expect(reads).toContainEqual(['hmget', keys.marketState('ETHUSDT')]);
  });

  it('a symbol not in the book is read directly, its quotes with it', async () => {
    const state = await stateOf(cold('100', 200));
    expect(state.quotes?.has('BTCUSDT')).toBe(false);
    const redis = cold('999', 100, { [keys.marketState('BTCUSDT')]: { mark_price: '50000', timestamp: String(NOW - 50) } });
    const { debug, reads } = await decide('BTCUSDT', state, redis);
    expect(debug).toMatchObject({ mark: 50000, mark_source: 'market_state', mark_age_ms: 50 });
    expect(reads).toContainEqual(['hmget', keys.marketState('BTCUSDT')]);
    expect(reads).not.toContainEqual(['hmget', keys.marketState('ETHUSDT')]);
  });

  it("one quote key of another type is that source's problem only: the others price the mark", async () => {
    const state = await stateOf(cold('100', 200));
    const redis = cold('999', 100, { [keys.ticker('BTCUSDT')]: { markPrice: '50001', timestamp: String(NOW - 70) } });
    const wrongType: FakeRedisData = { ...redis, strings: { [keys.marketState('BTCUSDT')]: 'not a hash' } };
    const { debug } = await decide('BTCUSDT', state, wrongType);
    expect(debug).toMatchObject({ mark: 50001, mark_source: 'ticker', mark_age_ms: 70 });
  });

  it('a mark read Redis does not answer fails the decision (the runtime holds it), never one recorded without its mark', async () => {
    const state = await stateOf(cold('100', 200));
    const run = await fakeCtx(heatGate, {
      state,
      redis: cold('999', 100),
      now: NOW,
      meta: { raw: { plan_id: 'p1', symbol: 'BTCUSDT', action: 'FULL_CLOSE' } },
    });
    // The mark's reads only (the market state's, among them): the symbol's own position is read as ever.
    const hmget = FakeRedisReader.prototype.hmget;
    vi.spyOn(FakeRedisReader.prototype, 'hmget').mockImplementation(function (this: FakeRedisReader, key: string, ...fields: string[]) {
      if (key === keys.marketState('BTCUSDT')) return Promise.reject(new Error('Command aborted due to connection close'));
      return hmget.call(this, key, ...fields);
    });
    const message = heatGate.input.parse({ plan_id: 'p1', symbol: 'BTCUSDT', action: 'FULL_CLOSE' });
    await expect((heatGate as AnyHandler).handle(message, run.ctx)).rejects.toThrow('Command aborted due to connection close');
    expect(run.emitted(streams.heatDecision)).toEqual([]);
  });
});

describe("the heat gate's heat gauges, from each batch's state", () => {
  /** Two positions with sigma: heat 0.29, WARM. */
  const warm: FakeRedisData = {
    hashes: {
      [keys.portfolioState]: { equity_usd: '3000' },
      [keys.position('ETHUSDT')]: { symbol: 'ETHUSDT', position_notional_usd: '1800', sigma: '0.15' },
      [keys.position('BTCUSDT')]: { symbol: 'BTCUSDT', position_notional_usd: '2000', sigma: '0.3' },
    },
    sets: { [keys.activePositions]: ['ETHUSDT', 'BTCUSDT'] },
  };
  const coldBook = cold('100', 200);

  function envOver(data: FakeRedisData, recorded: RecordedMetrics): DecisionEnv {
    return {
      reads: directReads(new FakeRedisReader(data), () => NOW),
      config,
      metrics: heatGate.metrics(recordingMetricFactory(recorded), config) as object,
      logger: () => silentLogger,
    };
  }

  const proposals = (count: number, from = 0) =>
    Array.from({ length: count }, (_, i) => {
      const raw = { plan_id: `p${from + i}`, symbol: 'ETHUSDT', action: 'FULL_CLOSE' };
      const id = `${NOW - 10}-${from + i}`;
      const delivery = new Delivery({ id, raw, producedAt: NOW - 10 }, raw, 1, id);
      delivery.message = heatGate.input.parse(raw);
      return delivery;
    });

  /** Handles a batch, then applies its messages' deferred metric calls in order, as their commit does. */
  async function batch(env: DecisionEnv, deliveries: Delivery[]): Promise<void> {
    await executeBatch(heatGate as AnyHandler, env, deliveries, () => undefined);
    for (const delivery of deliveries) {
      expect(delivery.outcome.kind).toBe('handled');
      applyMetricCalls(delivery.recorder!.metricCalls.splice(0));
    }
  }

  it('twenty messages of one batch: the gauges end with the batch heat', async () => {
    const recorded = new RecordedMetrics();
    const env = envOver(warm, recorded);
    await batch(env, proposals(20));
    expect(recorded.get('p26_heat_value')).toBeCloseTo(0.29, 6);
    expect([
      recorded.get('p26_bucket', { state: 'COLD' }),
      recorded.get('p26_bucket', { state: 'WARM' }),
      recorded.get('p26_bucket', { state: 'HOT' }),
    ]).toEqual([0, 1, 0]);
    expect(recorded.get('p26_proposals_processed_total')).toBe(20);
  });

  it("the next batch's heat replaces it", async () => {
    const recorded = new RecordedMetrics();
    const first = envOver(warm, recorded);
    await batch(first, proposals(5));
    // The same metrics, the book now cold.
    const second = { ...first, reads: directReads(new FakeRedisReader(coldBook), () => NOW) };
    await batch(second, proposals(5, 5));
    expect(recorded.get('p26_heat_value')).toBe(0);
    expect([recorded.get('p26_bucket', { state: 'COLD' }), recorded.get('p26_bucket', { state: 'WARM' })]).toEqual([1, 0]);
    expect(recorded.get('quantum_heat_gate_positions_without_sigma')).toBe(1);
    expect(recorded.get('quantum_heat_gate_notional_without_sigma_usd')).toBe(200);
  });
});
