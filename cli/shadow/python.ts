import { BUDGET_GATE } from './budget-pair.js';
import { verdictOf, type Decided } from './pair.js';
import { observePythonBudgets, pythonBudgetTicks } from './python-budget.js';
import { bridgeVerdict, pythonHeatBridgeDecision } from './python-bridge.js';
import { pythonHeatGateDecisions } from './python-heat.js';
import type { PythonReader } from './reader.js';
import type { Incumbent } from './report.js';

export type { PythonReader } from './reader.js';

/**
 * The Python governor's decision of a plan, where upstream's code writes it
 * (binyaminsemerci-ops/quantum_trader @73fab1f55, microservices/governor/main.py):
 * - a permit: `quantum:permit:{plan_id}`, SETEX 60 s, json.dumps of granted, symbol, decision, … (`_issue_permit`, lines 1092-1112);
 * - a block: `quantum:governor:block:{plan_id}`, SETEX 3600 s, json.dumps of reason, timestamp, symbol (`_block_plan`, lines 1036-1041).
 * It writes no per-plan entry to governor.events (only rotation, allocation-cap and auto-disarm
 * events: lines 571, 606, 629, 1325, 1478), so these keys are the whole of its verdict. A permit
 * lives 60 s: the shadow's pairing (every 5 s) reads it well within that, a report run later finds
 * the permit gone and names the plan unpaired.
 */
async function pythonGovernorDecision(redis: PythonReader, shadow: Decided): Promise<Decided | undefined> {
  const planId = shadow.raw.plan_id;
  if (planId === undefined) return undefined;
  const [permit, block] = await Promise.all([redis.get(`quantum:permit:${planId}`), redis.get(`quantum:governor:block:${planId}`)]);
  const written =
    permit !== null
      ? { key: `quantum:permit:${planId}`, value: permit }
      : block !== null
        ? { key: `quantum:governor:block:${planId}`, value: block }
        : undefined;
  if (written === undefined) return undefined;
  return {
    gate: 'governor',
    id: shadow.id,
    producedAt: shadow.producedAt,
    raw: shadow.raw,
    outcome: 'handled',
    effects: [{ op: 'setKey', ...written }],
    jobs: [],
  };
}

/**
 * A governor decision's verdict as the Python governor's outputs can tell it: permit, or block
 * and its reason; worded as verdictOf words the gates' ("event=block reason=…"), so the
 * documented differences match either.
 */
export function governorKeyVerdict(record: Decided): string {
  for (const effect of record.effects as { op?: string; key?: string; value?: string }[]) {
    if (effect.op !== 'setKey' || effect.key === undefined) continue;
    if (effect.key.startsWith('quantum:permit:')) return 'event=permit';
    if (effect.key.startsWith('quantum:governor:block:')) {
      try {
        return `event=block reason=${String((JSON.parse(effect.value ?? '') as { reason?: unknown }).reason)}`;
      } catch {
        return 'event=block';
      }
    }
  }
  return record.outcome === 'handled' ? 'no permit, no block' : record.outcome;
}

/** How each gate's verdict is worded for both sides, where the Python outputs tell less than a tape. */
const VERDICTS: Readonly<Record<string, (record: Decided) => string>> = {
  governor: governorKeyVerdict,
  'heat-bridge': bridgeVerdict,
};

/**
 * The Python services as incumbent: their outputs, read for each input the shadow decided, paired
 * by plan_id (their outputs carry no stream id): the governor's keys (P3.2), the heat gate's
 * calibrated entries, heat decisions and enforce hash (P2.6, python-heat.ts), the bridge's keys
 * (P2.7, python-bridge.ts); and the budget engine's hashes by tick (P2.8, python-budget.ts).
 */
export function pythonServices(redis: PythonReader): Incumbent {
  return {
    kind: 'python',
    keyOf: (record) => record.raw.plan_id ?? record.id,
    verdictOf: (record) => (VERDICTS[record.gate] ?? verdictOf)(record),
    observe: (writer) => observePythonBudgets(redis, writer),
    async decisions(_redis, gate, since, shadow) {
      const found = new Map<string, Decided>();
      if (gate === BUDGET_GATE) return pythonBudgetTicks(redis, since);
      if (shadow === undefined) return found;
      if (gate === 'heat-gate') return pythonHeatGateDecisions(redis, since, shadow);
      const one = gate === 'governor' ? pythonGovernorDecision : gate === 'heat-bridge' ? pythonHeatBridgeDecision : undefined;
      if (one === undefined) return found;
      for (const [key, record] of shadow) {
        const decided = await one(redis, record);
        if (decided !== undefined) found.set(key, decided);
      }
      return found;
    },
  };
}
