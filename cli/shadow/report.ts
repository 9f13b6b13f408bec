import { compareStreamIds } from '../../schemas/fields.js';
import { decodeShadowRecord, SHADOW_STATE, shadowDecisionsKey, tapeEntries, type TapeRecord } from '../../app/cli-door.js';
import { BUDGET_GATE } from './budget-pair.js';
import { DOCUMENTED_DIFFERENCES, type DocumentedDifference } from './documented.js';
import { asBudgetTick, periodOf } from './taped-tick.js';
import { DEFAULT_PRICING, pricePairs, type PricingSource } from './outcome-samples.js';
import type { PricedDifference } from './price.js';
import type { PairingWriter, ShadowReader } from './reader.js';
import { streamEntries } from './stream-entries.js';
import { settle, type Decided, type Pair, type PairClass, type PairingRules, type Settled, type Unpaired } from './pair.js';

export type { ShadowReader } from './reader.js';

/** Where the incumbent's decisions of a gate are read, and the key each input is paired by. */
export interface Incumbent {
  readonly kind: DocumentedDifference['incumbent'];
  /** The incumbent's decisions of `gate` on inputs after `since` (a stream id), by input key; `shadow`: the shadow's, by the same key. */
  decisions(redis: ShadowReader, gate: string, since: string, shadow?: ReadonlyMap<string, Decided>): Promise<Map<string, Decided>>;
  /**
   * How a decision's verdict is worded where the incumbent's outputs tell less than a tape (the
   * Python services'): the pair is compared on it alone. Absent: every verdict field is compared.
   */
  readonly verdictOf?: (record: Decided) => string;
  /** The key the shadow's decision of an input is paired by. */
  keyOf(record: Decided): string;
  /** Run by the live pairing before each round: keeps what the incumbent will write over (python-budget.ts). */
  observe?(writer: PairingWriter): Promise<unknown>;
}

export interface GateLine {
  readonly gate: string;
  /** The stream id the shadow began after. */
  readonly since: string;
  /** Entries of its stream its group has not read yet; null when Redis cannot tell. */
  readonly lag: number | null;
  readonly incumbentDecided: number;
  readonly shadowDecided: number;
}

export interface ShadowReport {
  readonly incumbent: DocumentedDifference['incumbent'];
  readonly at: number;
  readonly gates: readonly GateLine[];
  readonly compared: number;
  readonly same: number;
  readonly documented: number;
  readonly unexplained: number;
  readonly unpaired: number;
  readonly waiting: number;
  readonly pairs: readonly Pair[];
  readonly unpairedInputs: readonly Unpaired[];
  /** The verdict differences that change exposure, priced where the outcome follow-ups know what a decision led to: the shadow's own, else the incumbent's (price.ts). */
  readonly priced: readonly PricedDifference[];
}

/**
 * The current release as incumbent: its tape (app/tape), paired by the input's stream id; a budget
 * tick by its period (taped-tick.ts).
 */
export const currentRelease: Incumbent = {
  kind: 'current',
  keyOf: (record) => record.id,
  async decisions(redis, gate, since) {
    const found = new Map<string, Decided>();
    const periodMs = gate === BUDGET_GATE ? await periodOf(redis, gate) : undefined;
    for await (const taped of tapeRecords(redis, gate, since)) {
      const record = periodMs === undefined ? taped : asBudgetTick(taped, periodMs);
      if (compareStreamIds(record.id, since) > 0) found.set(record.id, record);
    }
    return found;
  },
};

/** A gate's taped decisions from the time of `since` (a stream id) on: a decision is taped after its input arrived. */
async function* tapeRecords(redis: ShadowReader, gate: string, since: string): AsyncGenerator<TapeRecord> {
  // An entry that does not decode: rehearse names those; here they are simply not compared.
  for await (const entry of tapeEntries(redis, gate, Number(since.split('-')[0]))) if ('records' in entry) yield* entry.records;
}

export async function lagOf(redis: ShadowReader, stream: string | undefined, group: string | undefined): Promise<number | null> {
  if (stream === undefined || group === undefined) return null;
  try {
    const rows = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    const row = rows.find((r) => r[r.indexOf('name') + 1] === group);
    const lag = Number(row?.[row.indexOf('lag') + 1]);
    return row === undefined || Number.isNaN(lag) ? null : lag;
  } catch {
    return null;
  }
}

export interface ReportOptions {
  readonly gates?: readonly string[] | undefined;
  /** An input decided by one side only is unpaired this long after it was produced (ms). */
  readonly graceMs: number;
  readonly documented?: readonly DocumentedDifference[];
  /** Where the outcome samples that price a difference are read; default the gates' stream and 5m,1h,4h. */
  readonly pricing?: PricingSource;
}

/** The shadow's state: per hosted gate, where it began, its stream and group, how far the live pairing counted. */
export async function shadowState(redis: ShadowReader): Promise<{ readonly gates: string[]; readonly fields: Record<string, string> }> {
  const fields = await redis.hgetall(SHADOW_STATE);
  const gates = Object.keys(fields)
    .filter((field) => field.endsWith(':since'))
    .map((field) => field.slice(0, -':since'.length))
    .sort();
  return { gates, fields };
}

/** One gate's decisions of both sides on inputs after `after` (a stream id), settled. */
export async function gateWindow(
  redis: ShadowReader,
  incumbent: Incumbent,
  gate: string,
  after: string,
  rules: PairingRules,
  now: number,
  graceMs: number,
): Promise<Settled & { readonly incumbentDecided: number; readonly shadowDecided: number }> {
  const shadow = new Map<string, Decided>();
  // The shadow records an input after it arrived: its records of inputs after `after` were added after `after`'s time.
  for await (const [, fields] of streamEntries(redis, shadowDecisionsKey(gate), `${after.split('-')[0]}-0`)) {
    const record = decodeShadowRecord(fields);
    if (record !== undefined && compareStreamIds(record.id, after) > 0) shadow.set(incumbent.keyOf(record), record);
  }
  const decided = await incumbent.decisions(redis, gate, after, shadow);
  return { ...settle(decided, shadow, rules, now, graceMs), incumbentDecided: decided.size, shadowDecided: shadow.size };
}

/** The shadow's decisions paired with the incumbent's, from where the shadow began. */
export async function shadowReport(redis: ShadowReader, incumbent: Incumbent, options: ReportOptions, now: number): Promise<ShadowReport> {
  const state = await shadowState(redis);
  const gates = options.gates ?? state.gates;
  const rules = { incumbent: incumbent.kind, documented: options.documented ?? DOCUMENTED_DIFFERENCES, verdictOf: incumbent.verdictOf };
  const lines: GateLine[] = [];
  const pairs: Pair[] = [];
  const unpairedInputs: Unpaired[] = [];
  let waiting = 0;
  for (const gate of gates) {
    const since = state.fields[`${gate}:since`];
    if (since === undefined) continue;
    const settled = await gateWindow(redis, incumbent, gate, since, rules, now, options.graceMs);
    pairs.push(...settled.pairs);
    unpairedInputs.push(...settled.unpaired);
    waiting += settled.waiting;
    const lag = await lagOf(redis, state.fields[`${gate}:stream`], state.fields[`${gate}:group`]);
    lines.push({ gate, since, lag, incumbentDecided: settled.incumbentDecided, shadowDecided: settled.shadowDecided });
  }
  const count = (c: PairClass) => pairs.filter((p) => p.class === c).length;
  const from = Math.min(...lines.map((line) => Number.parseInt(line.since, 10)));
  const priced = lines.length === 0 ? [] : await pricePairs(redis, pairs, from, options.pricing ?? DEFAULT_PRICING);
  return {
    incumbent: incumbent.kind,
    at: now,
    gates: lines,
    compared: pairs.length,
    same: count('same'),
    documented: count('documented'),
    unexplained: count('unexplained'),
    unpaired: unpairedInputs.length,
    waiting,
    pairs,
    unpairedInputs,
    priced,
  };
}
