import { defineHandler, type EffectWriter } from '../../runtime/contract/index.js';
import { heatLatestSchema, type HeatLatest } from '../../schemas/heat-bridge.js';
import { heatDecisionReader, type HeatDecisionRead } from '../../schemas/heat-gate.js';
import { keys } from '../../schemas/keys.js';
import { parseHeatBridgeConfig, type HeatBridgeConfig } from './config.js';
import { compareStreamIds, heatByPlanOf, tsEpochOf } from './lookup.js';
import { heatBridgeMetrics } from './metrics.js';
import { heatBridgeHealth } from './health.js';
import { heatBridgeMetricsText } from './metrics-text.js';

/**
 * P2.7 HeatBridge: turns each heat decision into three lookup keys (by plan, latest per symbol,
 * latest plan id per symbol) for downstream services. Advisory only. A plan_id seen within
 * P27_DEDUPE_TTL_SEC is skipped; the dedupe key is written with the lookups, and the runtime
 * checks it before handle and guards it at commit (idempotency), so replicas racing on one
 * plan_id write it once.
 */
export const heatBridge = defineHandler({
  name: 'heat-bridge',
  description: 'P2.7 heat bridge: heat decisions → quantum:harvest:heat:{by_plan,latest,latest_plan_id} lookup keys',
  trigger: { kind: 'stream', stream: (c: HeatBridgeConfig) => c.P27_STREAM_IN, group: (c: HeatBridgeConfig) => c.P27_GROUP },
  input: heatDecisionReader,
  config: parseHeatBridgeConfig,
  metrics: heatBridgeMetrics,
  batch: {
    // The original counted its poll loops; here the runtime's batches are the loops.
    onRead: (metrics) => metrics.loops.inc(),
  },
  http: { health: heatBridgeHealth, metrics: heatBridgeMetricsText },
  // A decision that cannot be bridged is kept in the dead-letter stream for replay, not dropped.
  failure: { maxAttempts: 3, backoffMs: 25, policy: 'dead-letter' },
  idempotency: {
    keys: (decision) => [keys.heatBridgeDedupe(decision.plan_id)],
    onDuplicate: (decision, ctx) => {
      // A skip waits for earlier entries of its plan_id and symbol too, as every decision does.
      inStreamOrder(decision, ctx);
      // The original returned here, before counting p27_in_messages_total.
      ctx.metrics.dedupeSkips.inc();
      ctx.log.debug({ plan_id: decision.plan_id, symbol: decision.symbol }, 'plan_id seen within the dedupe window; skipped');
    },
  },
  async handle(decision, ctx) {
    const { config, metrics } = ctx;
    inStreamOrder(decision, ctx);

    const sourceIdKey = keys.heatLatestSourceId(decision.symbol);
    const pointerKey = keys.heatLatestPlanId(decision.symbol);
    const [latestSourceId, pointer] = await Promise.all([ctx.redis.get(sourceIdKey), ctx.redis.get(pointerKey)]);
    metrics.inMessages.inc();

    const onWriteFail = () => metrics.errors.inc({ stage: 'write' });
    ctx.put(keys.heatBridgeDedupe(decision.plan_id), '1', { ttlSec: config.P27_DEDUPE_TTL_SEC, onFail: onWriteFail });

    // HSET over the key, as the original (`hset(..., mapping=lookup_data)`), then its TTL.
    const byPlan = heatByPlanOf(decision);
    ctx.put(keys.heatByPlan(decision.plan_id), byPlan, { ttlSec: config.P27_TTL_PLAN_SEC, onFail: onWriteFail });
    metrics.written.inc({ kind: 'by_plan' });

    // Replicas may commit out of stream order; the latest keys only ever move forward. The guard
    // on the pointer makes the comparison hold at commit time.
    if (latestSourceId !== null && compareStreamIds(latestSourceId, ctx.meta.id) > 0) {
      ctx.log.debug({ plan_id: decision.plan_id, newer: latestSourceId }, 'a newer decision is already latest for the symbol');
    } else {
      ctx.require(pointerKey, { is: 'holding', value: pointer });
      const latest: HeatLatest = heatLatestSchema.parse({ ...byPlan, last_plan_id: decision.plan_id });
      ctx.put(keys.heatLatest(decision.symbol), latest, { ttlSec: config.P27_TTL_SYMBOL_SEC, onFail: onWriteFail });
      ctx.put(pointerKey, decision.plan_id, { ttlSec: config.P27_TTL_SYMBOL_SEC, onFail: onWriteFail });
      ctx.put(sourceIdKey, ctx.meta.id, { ttlSec: config.P27_TTL_SYMBOL_SEC, onFail: onWriteFail });
      metrics.written.inc({ kind: 'latest_symbol' });
    }

    // As the original: both follow ts_epoch when it is whole seconds, and stay otherwise.
    const tsEpoch = tsEpochOf(decision.ts_epoch);
    if (tsEpoch !== undefined) {
      metrics.lastTsEpoch.set(tsEpoch);
      metrics.lagMs.set(Math.max(0, Math.trunc(ctx.now() - tsEpoch * 1000)));
    }
    ctx.log.info(
      { plan_id: decision.plan_id, symbol: decision.symbol, heat_action: decision.heat_action ?? 'NONE' },
      'lookup keys written',
    );
  },
});

/**
 * As the original's single loop: the first decision for a plan_id is the one kept, and the
 * latest_* keys follow stream order, also when replicas hold neighbouring entries.
 */
function inStreamOrder(decision: Pick<HeatDecisionRead, 'plan_id' | 'symbol'>, ctx: EffectWriter): void {
  ctx.orderBy('plan_id', decision.plan_id);
  ctx.orderBy('symbol', decision.symbol);
}
