import { calibratedEntryReader } from '../../schemas/heat-gate.js';

/**
 * The shadow-compare analysis of seed 001: from the heat gate's calibrated stream, how often
 * a full close (FULL_CLOSE, the kernel's FULL_CLOSE_PROPOSED) was downgraded (overall, per heat bucket, per symbol) and how portfolio heat was
 * distributed. Pure: entries in, numbers out; reading Redis and printing live elsewhere.
 */
import { parseNumber } from '../../schemas/fields.js';

/** The full closes the heat gate calibrates: the seeds' FULL_CLOSE and the Harvest Kernel's FULL_CLOSE_PROPOSED. */
const FULL_CLOSES: ReadonlySet<string> = new Set(['FULL_CLOSE', 'FULL_CLOSE_PROPOSED']);

export interface CalibratedEntry {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

export interface GroupStats {
  /** Decisions of any action in the group. */
  decisions: number;
  fullClose: number;
  /** FULL_CLOSE proposals whose calibrated action differs. */
  downgraded: number;
  /** downgraded / fullClose; null without FULL_CLOSE proposals. */
  downgradeRate: number | null;
  /** Calibrated action of the downgraded FULL_CLOSEs → count. */
  downgradedTo: Record<string, number>;
}

export interface HeatBin {
  readonly from: number;
  /** null for the last, open-ended bin. */
  readonly to: number | null;
  count: number;
}

export interface HeatDistribution {
  readonly count: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly histogram: HeatBin[];
}

export interface ShadowReport {
  readonly entries: number;
  /** Entries without the fields the analysis needs (original_action or calibrated_action). */
  readonly unreadable: number;
  readonly total: GroupStats;
  /** COLD, WARM, HOT first, then any other bucket label seen. */
  readonly byBucket: Record<string, GroupStats>;
  readonly bySymbol: Record<string, GroupStats>;
  readonly byMode: Record<string, number>;
  /** Reasons given for FULL_CLOSE decisions. */
  readonly fullCloseReasons: Record<string, number>;
  /** Decisions taken without a heat (missing or invalid portfolio data, gate errors): fail-closed to COLD. */
  readonly failClosed: number;
  /** Heat of the decisions that had one (fail-closed decisions carry no real heat and are left out). */
  readonly heat: HeatDistribution;
}

export interface ShadowOptions {
  /** Histogram bin width (default 0.05, so the 0.25 and 0.65 thresholds fall on edges). */
  readonly binWidth?: number;
  /** Heat at which the open-ended last bin starts (default 1). */
  readonly binMax?: number;
}

/**
 * Reasons an earlier quantum-gates gave when it could not compute heat. The gate now writes the
 * original's reason (portfolio_heat_cold) and the cause in `fail_closed_cause`.
 */
export const FAIL_CLOSED_REASONS: ReadonlySet<string> = new Set(['missing_portfolio_state', 'invalid_equity', 'heat_gate_error']);

const BUCKET_ORDER = ['COLD', 'WARM', 'HOT'];

function emptyGroup(): GroupStats {
  return { decisions: 0, fullClose: 0, downgraded: 0, downgradeRate: null, downgradedTo: {} };
}

function count(group: GroupStats, original: string, calibrated: string): void {
  group.decisions += 1;
  if (!FULL_CLOSES.has(original)) return;
  group.fullClose += 1;
  if (calibrated !== original) {
    group.downgraded += 1;
    group.downgradedTo[calibrated] = (group.downgradedTo[calibrated] ?? 0) + 1;
  }
}

function finish(group: GroupStats): GroupStats {
  group.downgradeRate = group.fullClose === 0 ? null : group.downgraded / group.fullClose;
  return group;
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function heatDistribution(values: readonly number[], { binWidth = 0.05, binMax = 1 }: ShadowOptions = {}): HeatDistribution {
  if (!(binWidth > 0) || !(binMax > 0)) throw new RangeError('binWidth and binMax must be positive');
  const binCount = Math.round(binMax / binWidth);
  // Edges from integer multiples, so 0.25 is exactly 0.25 and not 0.05 added five times.
  const edge = (i: number) => Math.round(i * binWidth * 1e9) / 1e9;
  const histogram: HeatBin[] = Array.from({ length: binCount }, (_, i) => ({ from: edge(i), to: edge(i + 1), count: 0 }));
  histogram.push({ from: edge(binCount), to: null, count: 0 });
  for (const value of values) {
    // Heat is never negative; a negative value would be a producer bug, counted in the first bin.
    const index = Math.max(
      0,
      histogram.findIndex((bin) => bin.to === null || value < bin.to),
    );
    histogram[index]!.count += 1;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: values.length,
    min: sorted[0] ?? null,
    max: sorted[sorted.length - 1] ?? null,
    mean: values.length === 0 ? null : values.reduce((sum, v) => sum + v, 0) / values.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    histogram,
  };
}

export function aggregateShadow(entries: readonly CalibratedEntry[], options: ShadowOptions = {}): ShadowReport {
  const total = emptyGroup();
  const byBucket: Record<string, GroupStats> = {};
  const bySymbol: Record<string, GroupStats> = {};
  const byMode: Record<string, number> = {};
  const fullCloseReasons: Record<string, number> = {};
  const heats: number[] = [];
  let unreadable = 0;
  let failClosed = 0;

  for (const entry of entries) {
    const parsed = calibratedEntryReader.safeParse(entry.fields);
    const fields = parsed.success ? parsed.data : undefined;
    const original = fields?.original_action?.trim();
    const calibrated = fields?.calibrated_action?.trim();
    if (!fields || !original || !calibrated) {
      unreadable += 1;
      continue;
    }
    const bucket = fields.heat_bucket?.trim() || 'UNKNOWN';
    const symbol = fields.symbol?.trim() || 'UNKNOWN';
    const reason = fields.reason?.trim() ?? '';
    count(total, original, calibrated);
    count((byBucket[bucket] ??= emptyGroup()), original, calibrated);
    count((bySymbol[symbol] ??= emptyGroup()), original, calibrated);
    bump(byMode, fields.mode?.trim() || 'unknown');
    if (FULL_CLOSES.has(original)) bump(fullCloseReasons, reason || 'unknown');
    if (fields.fail_closed_cause !== undefined || FAIL_CLOSED_REASONS.has(reason)) {
      failClosed += 1;
      continue;
    }
    const heat = Number(fields.heat_value);
    if (fields.heat_value !== undefined && fields.heat_value.trim() !== '' && Number.isFinite(heat)) heats.push(heat);
  }

  const bucketNames = Object.keys(byBucket).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const symbolNames = Object.keys(bySymbol).sort((a, b) => bySymbol[b]!.fullClose - bySymbol[a]!.fullClose || a.localeCompare(b));
  return {
    entries: entries.length,
    unreadable,
    total: finish(total),
    byBucket: Object.fromEntries(bucketNames.map((name) => [name, finish(byBucket[name]!)])),
    bySymbol: Object.fromEntries(symbolNames.map((name) => [name, finish(bySymbol[name]!)])),
    byMode,
    fullCloseReasons,
    failClosed,
    heat: heatDistribution(heats, options),
  };
}

function rank(bucket: string): number {
  const i = BUCKET_ORDER.indexOf(bucket);
  return i === -1 ? BUCKET_ORDER.length : i;
}

/** One heat-gate decision, for a join with fills: the same keys in --json and --csv. */
export interface ShadowDecision {
  readonly id: string;
  /** ISO time the decision was written (its stream id's time: milliseconds, where the entry's own timestamp has seconds). */
  readonly ts: string;
  readonly plan_id: string;
  readonly symbol: string;
  readonly heat: number | null;
  readonly bucket: string;
  readonly original_action: string;
  readonly calibrated_action: string;
  readonly reason: string;
  /** Why the gate could not trust its inputs and decided COLD (empty when it could). */
  readonly fail_closed_cause: string;
  readonly mode: string;
}

export const SHADOW_DECISION_KEYS: readonly (keyof ShadowDecision)[] = [
  'id',
  'ts',
  'plan_id',
  'symbol',
  'heat',
  'bucket',
  'original_action',
  'calibrated_action',
  'reason',
  'fail_closed_cause',
  'mode',
];

/** Every decision of the window, kept and downgraded alike, in stream order. */
export function shadowDecisions(entries: readonly CalibratedEntry[]): ShadowDecision[] {
  return entries.flatMap(({ id, fields: raw }) => {
    const parsed = calibratedEntryReader.safeParse(raw);
    if (!parsed.success) return []; // aggregateShadow counts these as unreadable
    const fields = parsed.data;
    return {
      id,
      ts: new Date(Number.parseInt(id, 10)).toISOString(),
      plan_id: fields.plan_id ?? '',
      symbol: fields.symbol ?? '',
      heat: parseNumber(fields.heat_value) ?? null,
      bucket: fields.heat_bucket ?? '',
      original_action: fields.original_action ?? '',
      calibrated_action: fields.calibrated_action ?? '',
      reason: fields.reason ?? '',
      fail_closed_cause: fields.fail_closed_cause ?? '',
      mode: fields.mode ?? '',
    };
  });
}
