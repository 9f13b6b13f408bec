import { fieldsToRecord } from '../../schemas/fields.js';
import { keys, streams } from '../../schemas/keys.js';
import type { Decided } from './pair.js';
import type { PythonReader } from './reader.js';
import { streamEntries } from './stream-entries.js';

/**
 * The Python heat gate's decisions of the proposals the shadow decided, where upstream's code
 * writes them (binyaminsemerci-ops/quantum_trader), paired by plan_id (its outputs carry no
 * input stream id):
 * - P2.6, microservices/portfolio_heat_gate/main.py `_process_proposal`: the calibrated entry
 *   XADD quantum:stream:harvest.calibrated (@1370c1def lines 306-327, @73fab1f55 line 328) and, in
 *   enforce mode, HSET + EXPIRE 300 quantum:harvest:proposal:{symbol} with `calibrated_by`
 *   p26_heat_gate (@1370c1def lines 334-361, @73fab1f55 lines 360-362). It skips a proposal
 *   without plan_id, symbol or action (line 277): such a proposal has no incumbent decision.
 * - the heat decision, XADD quantum:stream:harvest.heat.decision by the separate heat gate
 *   microservices/heat_gate (main.py `write_heat_decision` line 154, fields from logic.py lines
 *   232-244, @3eb5fe66b; the same line @73fab1f55), which the gates' P2.6 writes itself (docs/migration.md H10).
 * The verdict is the calibrated entry's (calibrated_action and reason, pair.ts verdictOf); the
 * heat decision and the enforce hash are kept on the record as read (the hash only while it is
 * still this plan's: the next proposal of the symbol writes over it).
 */
export async function pythonHeatGateDecisions(
  redis: PythonReader,
  since: string,
  shadow: ReadonlyMap<string, Decided>,
): Promise<Map<string, Decided>> {
  const found = new Map<string, Decided>();
  if (shadow.size === 0) return found;
  const [calibrated, heatDecisions] = await Promise.all([
    firstByPlanId(redis, streams.harvestCalibrated, since),
    firstByPlanId(redis, streams.heatDecision, since),
  ]);
  for (const [planId, record] of shadow) {
    const entry = calibrated.get(planId);
    if (entry === undefined) continue;
    const effects: unknown[] = [{ op: 'emit', stream: streams.harvestCalibrated, fields: entry }];
    const decision = heatDecisions.get(planId);
    if (decision !== undefined) effects.push({ op: 'emit', stream: streams.heatDecision, fields: decision });
    if (entry.mode === 'enforce' && entry.symbol) {
      const hash = await redis.hgetall(keys.harvestProposal(entry.symbol));
      if (hash.plan_id === planId && hash.calibrated_by === 'p26_heat_gate')
        effects.push({ op: 'putHash', key: keys.harvestProposal(entry.symbol), fields: hash });
    }
    found.set(planId, {
      gate: record.gate,
      id: record.id,
      producedAt: record.producedAt,
      raw: record.raw,
      outcome: 'handled',
      effects,
      jobs: [],
    });
  }
  return found;
}

/**
 * Per plan_id, the first entry of `stream` written after the input `since` (a stream id) came:
 * an output is written after its input, so the stream from that millisecond on holds them all.
 */
async function firstByPlanId(redis: PythonReader, stream: string, since: string): Promise<Map<string, Record<string, string>>> {
  const found = new Map<string, Record<string, string>>();
  for await (const [, fields] of streamEntries(redis, stream, `${since.split('-')[0]}-0`)) {
    const entry = fieldsToRecord(fields);
    const planId = entry.plan_id;
    if (planId && !found.has(planId)) found.set(planId, { ...entry });
  }
  return found;
}
