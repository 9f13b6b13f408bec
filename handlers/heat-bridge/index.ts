import { z } from 'zod';
import { defineHandler } from '../../runtime/handler.js';
import { idField, symbolSchema } from '../../schemas/common.js';
import { keys } from '../../schemas/keys.js';
import { parseHeatBridgeConfig, type HeatBridgeConfig } from './config.js';
import { compareStreamIds, lookupFields } from './lookup.js';
import { errorStages, heatBridgeMetrics, writtenKinds } from './metrics.js';
import { heatBridgeHealth } from './health.js';

const text = z.string().max(10_000).optional();

/** An entry of quantum:stream:harvest.heat.decision as the heat gate writes it (see heat-gate record()). */
export const heatDecisionSchema = z.looseObject({
  plan_id: idField,
  symbol: symbolSchema,
  ts_epoch: text,
  in_action: text,
  out_action: text,
  heat_level: text,
  heat_score: text,
  heat_action: text,
  recommended_partial: text,
  reason: text,
  mode: text,
  debug_json: text,
});

/**
 * P2.7 HeatBridge: turns each heat decision into three lookup keys (by plan, latest per symbol,
 * latest plan id per symbol) for downstream services. Advisory only. A plan_id seen within
 * P27_DEDUPE_TTL_SEC is skipped; the dedupe key is written with the lookups and guarded at
 * commit, so replicas racing on one plan_id write it once.
 */
export const heatBridge = defineHandler({
  name: 'heat-bridge',
  description: 'P2.7 heat bridge: heat decisions → quantum:harvest:heat:{by_plan,latest,latest_plan_id} lookup keys',
  trigger: { kind: 'stream', stream: (c: HeatBridgeConfig) => c.P27_STREAM_IN, group: (c: HeatBridgeConfig) => c.P27_GROUP },
  input: heatDecisionSchema,
  config: parseHeatBridgeConfig,
  metrics: heatBridgeMetrics,
  onStart: (_config, metrics) => {
    // The original exported every series from the start, at 0.
    for (const kind of writtenKinds) metrics.written.inc({ kind }, 0);
    for (const stage of errorStages) metrics.errors.inc({ stage }, 0);
  },
  // The original counted its poll loops; here the runtime's batches are the loops.
  onBatch: (metrics) => metrics.loops.inc(),
  health: heatBridgeHealth,
  // A decision that cannot be bridged is kept in the dead-letter stream for replay, not dropped.
  failure: { maxAttempts: 3, backoffMs: 25, policy: 'dead-letter' },
  async handle(decision, ctx) {
    const { config, metrics } = ctx;
    metrics.inMessages.inc();
    // As the original's single loop: the first decision for a plan_id is the one kept, and the
    // latest_* keys follow stream order, also when replicas hold neighbouring entries.
    ctx.orderBy('plan_id', decision.plan_id);
    ctx.orderBy('symbol', decision.symbol);

    const dedupeKey = keys.heatBridgeDedupe(decision.plan_id);
    const latestKey = keys.heatLatest(decision.symbol);
    const pointerKey = keys.heatLatestPlanId(decision.symbol);
    const [seen, latestSourceId, pointer] = await Promise.all([
      ctx.redis.exists(dedupeKey),
      ctx.redis.hget(latestKey, 'source_id'),
      ctx.redis.get(pointerKey),
    ]);
    if (seen > 0) {
      metrics.dedupeSkips.inc();
      ctx.log.debug({ plan_id: decision.plan_id, symbol: decision.symbol }, 'plan_id seen within the dedupe window; skipped');
      return;
    }

    const onWriteFail = () => metrics.errors.inc({ stage: 'write' });
    ctx.requireAbsent(dedupeKey);
    ctx.setKey(dedupeKey, '1', { ttlSec: config.P27_DEDUPE_TTL_SEC, onFail: onWriteFail });

    const fields = lookupFields(ctx.meta.raw);
    ctx.putHash(keys.heatByPlan(decision.plan_id), fields, { ttlSec: config.P27_TTL_PLAN_SEC, replace: true, onFail: onWriteFail });
    metrics.written.inc({ kind: 'by_plan' });

    // Replicas may commit out of stream order; the latest keys only ever move forward. The guard
    // on the pointer makes the comparison hold at commit time.
    if (latestSourceId !== null && compareStreamIds(latestSourceId, ctx.meta.id) > 0) {
      ctx.log.debug({ plan_id: decision.plan_id, newer: latestSourceId }, 'a newer decision is already latest for the symbol');
    } else {
      if (pointer === null) ctx.requireAbsent(pointerKey);
      else ctx.requireValue(pointerKey, pointer);
      ctx.putHash(
        latestKey,
        { ...fields, last_plan_id: decision.plan_id, source_id: ctx.meta.id },
        { ttlSec: config.P27_TTL_SYMBOL_SEC, replace: true, onFail: onWriteFail },
      );
      ctx.setKey(pointerKey, decision.plan_id, { ttlSec: config.P27_TTL_SYMBOL_SEC, onFail: onWriteFail });
      metrics.written.inc({ kind: 'latest_symbol' });
    }

    const tsEpoch = Number(decision.ts_epoch);
    metrics.lastTsEpoch.set(decision.ts_epoch !== undefined && Number.isFinite(tsEpoch) && tsEpoch > 0 ? tsEpoch : Math.floor(ctx.meta.producedAt / 1000));
    metrics.lagMs.set(Math.max(0, ctx.now() - ctx.meta.producedAt));
    ctx.log.info({ plan_id: decision.plan_id, symbol: decision.symbol, heat_action: decision.heat_action ?? 'NONE' }, 'lookup keys written');
  },
});
