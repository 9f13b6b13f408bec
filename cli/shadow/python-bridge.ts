import { keys } from '../../schemas/keys.js';
import type { Decided } from './pair.js';
import type { PythonReader } from './reader.js';

const BY_PLAN = keys.heatByPlan('');

/**
 * The Python heat bridge's decision of a heat decision entry, where upstream's code writes it
 * (binyaminsemerci-ops/quantum_trader microservices/heat_bridge/main.py `write_lookup_keys`,
 * @3eb5fe66b and @73fab1f55 alike), paired by the entry's plan_id:
 * - HSET + EXPIRE 1800 quantum:harvest:heat:by_plan:{plan_id}, the 12 lookup fields (lines 171-190);
 * - HSET + EXPIRE quantum:harvest:heat:latest:{symbol} with `last_plan_id` (lines 194-198) and
 *   SETEX quantum:harvest:heat:latest_plan_id:{symbol} (lines 202-203), kept on the record only
 *   while they still name this plan (the symbol's next decision writes over them).
 * Nothing written under by_plan: the bridge has not decided it (or its 1800 s are over).
 */
export async function pythonHeatBridgeDecision(redis: PythonReader, shadow: Decided): Promise<Decided | undefined> {
  const { plan_id: planId, symbol } = shadow.raw;
  if (!planId) return undefined;
  const byPlan = await redis.hgetall(keys.heatByPlan(planId));
  if (Object.keys(byPlan).length === 0) return undefined;
  const effects: unknown[] = [{ op: 'putHash', key: keys.heatByPlan(planId), fields: byPlan }];
  if (symbol) {
    const [latest, pointer] = await Promise.all([redis.hgetall(keys.heatLatest(symbol)), redis.get(keys.heatLatestPlanId(symbol))]);
    if (latest.last_plan_id === planId) effects.push({ op: 'putHash', key: keys.heatLatest(symbol), fields: latest });
    if (pointer === planId) effects.push({ op: 'setKey', key: keys.heatLatestPlanId(symbol), value: pointer });
  }
  return { gate: shadow.gate, id: shadow.id, producedAt: shadow.producedAt, raw: shadow.raw, outcome: 'handled', effects, jobs: [] };
}

/**
 * A bridge decision's verdict, the same words for both sides: what it wrote under by_plan (the
 * key the Apply Layer looks a plan up by), else its outcome. The latest keys are not in it: which
 * plan they name depends on which decision of the symbol came last, and ours move only forward (B5).
 */
export function bridgeVerdict(record: Decided): string {
  if (record.outcome !== 'handled') return record.outcome;
  for (const effect of record.effects as { op?: string; key?: string; fields?: Record<string, string> }[]) {
    if (effect.op !== 'putHash' || !effect.key?.startsWith(BY_PLAN) || effect.fields === undefined) continue;
    const { out_action: out, heat_level: level, reason } = effect.fields;
    return `by_plan out_action=${out ?? ''} heat_level=${level ?? ''} reason=${reason ?? ''}`;
  }
  return 'no lookup written';
}
