import { SHADOW_DIFFERENCES, SHADOW_STATE, SHADOW_SUMMARY, SHADOW_UNEXPLAINED } from '../../app/cli-door.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { DOCUMENTED_DIFFERENCES } from './documented.js';
import { pricedRows } from './format.js';
import { DEFAULT_PRICING, pricePairs, type PricingSource } from './outcome-samples.js';
import type { Pair, Unpaired } from './pair.js';
import { pricedKind } from './price.js';
import { streamEntries } from './stream-entries.js';
import { gateWindow, lagOf, shadowState, type Incumbent } from './report.js';
import type { PairingWriter } from './reader.js';

/** The last unexplained pairs the summary keeps for the status page. */
const UNEXPLAINED_KEPT = 50;
/** The verdict differences that change exposure, kept to be priced again as their samples come in. */
const DIFFERENCES_KEPT = 10_000;
/** How often the kept differences are priced again when no new one came: a sample comes at its horizon. */
const PRICE_EVERY_MS = 60_000;
/** The plans a priced line names. */
const PRICED_PLANS = 5;

/** The counters the pairing moves (app/shadow/metrics.ts). */
export interface PairingCounters {
  readonly pairs: { inc(labels: { gate: string; class: string }): void };
  readonly unpaired: { inc(labels: { gate: string; decided_by: string }): void };
  readonly lag: { set(labels: { gate: string }, value: number): void };
  readonly pairedUpTo: { set(labels: { gate: string }, value: number): void };
}

/**
 * One round of the live pairing: per gate, the inputs after those already counted, settled; those
 * produced before the oldest one still waiting for its other side are counted once (the counters,
 * the summary hash, the unexplained ones kept side by side) and the gate's cursor moves past them.
 */
export async function pairRound(
  redis: PairingWriter,
  incumbent: Incumbent,
  counters: PairingCounters,
  now: number,
  graceMs: number,
  pricing: PricingSource = DEFAULT_PRICING,
): Promise<{ readonly counted: number; readonly unexplained: number }> {
  await incumbent.observe?.(redis);
  const state = await shadowState(redis);
  const rules = { incumbent: incumbent.kind, documented: DOCUMENTED_DIFFERENCES, verdictOf: incumbent.verdictOf };
  let counted = 0;
  let unexplained = 0;
  let differences = 0;
  for (const gate of state.gates) {
    const after = state.fields[`${gate}:paired`] ?? state.fields[`${gate}:since`]!;
    const settled = await gateWindow(redis, incumbent, gate, after, rules, now, graceMs);
    const before = <T extends Pair | Unpaired>(items: readonly T[]) =>
      items.filter((item) => settled.waitingFrom === undefined || item.producedAt < settled.waitingFrom);
    const pairs = before(settled.pairs);
    const unpaired = before(settled.unpaired);
    const lag = await lagOf(redis, state.fields[`${gate}:stream`], state.fields[`${gate}:group`]);
    const tx = redis.multi();
    if (lag !== null) {
      counters.lag.set({ gate }, lag);
      tx.hset(SHADOW_SUMMARY, `lag:${gate}`, lag);
    }
    tx.hset(SHADOW_SUMMARY, 'at', now, 'incumbent', incumbent.kind);
    let last = after;
    for (const pair of pairs) {
      counters.pairs.inc({ gate, class: pair.class });
      tx.hincrby(SHADOW_SUMMARY, 'compared', 1);
      tx.hincrby(SHADOW_SUMMARY, pair.class, 1);
      if (pair.class === 'unexplained') tx.xadd(SHADOW_UNEXPLAINED, 'MAXLEN', '~', UNEXPLAINED_KEPT, '*', 'pair', JSON.stringify(pair));
      if (pricedKind(pair) !== undefined) {
        tx.xadd(SHADOW_DIFFERENCES, 'MAXLEN', '~', DIFFERENCES_KEPT, '*', 'pair', JSON.stringify(pair));
        differences += 1;
      }
      if (compareStreamIds(pair.id, last) > 0) last = pair.id;
    }
    for (const alone of unpaired) {
      counters.unpaired.inc({ gate, decided_by: alone.decidedBy });
      tx.hincrby(SHADOW_SUMMARY, 'unpaired', 1);
      if (compareStreamIds(alone.id, last) > 0) last = alone.id;
    }
    if (last !== after) {
      tx.hset(SHADOW_STATE, `${gate}:paired`, last);
      const upTo = Number.parseInt(last, 10);
      counters.pairedUpTo.set({ gate }, upTo / 1000);
      tx.hset(SHADOW_SUMMARY, `paired_up_to:${gate}`, upTo);
    }
    await tx.exec();
    counted += pairs.length + unpaired.length;
    unexplained += pairs.filter((p) => p.class === 'unexplained').length;
  }
  await priceKept(redis, state, now, differences > 0, pricing);
  return { counted, unexplained };
}

/**
 * The kept differences priced (price.ts, as `shadow report` prices them) into the summary's
 * `priced` (rows of format.ts pricedRows), for the status page: when new ones were counted, else
 * once a minute, as their outcome samples come in at their horizons.
 */
async function priceKept(
  redis: PairingWriter,
  state: Awaited<ReturnType<typeof shadowState>>,
  now: number,
  fresh: boolean,
  pricing: PricingSource,
): Promise<void> {
  const summary = await redis.hgetall(SHADOW_SUMMARY);
  if (!fresh && now - Number(summary.priced_at ?? 0) < PRICE_EVERY_MS) return;
  const kept: Pair[] = [];
  for await (const [, fields] of streamEntries(redis, SHADOW_DIFFERENCES, '-')) {
    try {
      kept.push(JSON.parse(fields[fields.indexOf('pair') + 1] ?? '') as Pair);
    } catch {
      continue;
    }
  }
  if (kept.length === 0) return;
  const from = Math.min(...state.gates.map((gate) => Number.parseInt(state.fields[`${gate}:since`] ?? '0', 10)));
  const rows = pricedRows(await pricePairs(redis, kept, from, pricing), PRICED_PLANS);
  const tx = redis.multi();
  tx.hset(SHADOW_SUMMARY, 'priced', JSON.stringify(rows), 'priced_at', now);
  await tx.exec();
}
