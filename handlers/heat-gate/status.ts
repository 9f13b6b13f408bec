import { defineStatusSection, type SectionHeadlineReason, type StatusReadContext } from '../../runtime/contract/index.js';
import { type BadgeCase } from '../../schemas/status/views.js';
import { fieldsToRecord, parseNumber } from '../../schemas/fields.js';
import { calibratedEntryReader } from '../../schemas/heat-gate.js';
import { heatText } from '../../domain/heat.js';
import { keys, streams } from '../../schemas/keys.js';
import { DECISION_LIMIT, decisionsSection, entryTime, type Decision } from '../decisions.js';
import type { HeatGateConfig } from './config.js';

/** The heat gate's sections of the status: portfolio heat with its history, and its decisions. */

export interface HeatPoint {
  readonly at: number;
  readonly heat: number;
  readonly bucket: string | null;
}

export interface HeatStatus {
  /** Null when never measured, or when the newest decision failed closed (then `unknown` says why). */
  readonly value: number | null;
  readonly bucket: string | null;
  /** "unknown (portfolio_state_missing)": the newest decision failed closed, so the heat it wrote (0, COLD) was not measured. */
  readonly unknown: string | null;
  /** Decisions in enforce that failed closed within the last FAIL_CLOSED_WINDOW_MS: each treated the heat as COLD. */
  readonly fail_closed: { readonly count: number; readonly cause: string; readonly since: number } | null;
  /**
   * Decisions in enforce within the last FAIL_CLOSED_WINDOW_MS decided HOT on a lower bound (a figure
   * refused, the figures trusted already at HOT: `heat_lower_bound`): the heat shown is at least that.
   */
  readonly lower_bound: { readonly count: number; readonly cause: string; readonly since: number } | null;
  readonly updated_at: number | null;
  readonly thresholds: { readonly min: number; readonly max: number } | null;
  /** Oldest first, from the calibrated stream. */
  readonly history: readonly HeatPoint[];
}

/** Calibrated entries read for the heat chart and the decisions. */
export const HISTORY_SIZE = 120;

/** Fail-closed decisions in enforce this recent are a DEGRADED reason of the headline. */
export const FAIL_CLOSED_WINDOW_MS = 15 * 60_000;

/** COLD < HEAT_MIN ≤ WARM < HEAT_MAX ≤ HOT: the thresholds' edges and the buckets between them. */
const HEAT_BANDS = { edges: ['min', 'max'], names: ['COLD', 'WARM', 'HOT'] } as const;

/** Heat is the market's state, which the heat gate acts on: never an alarm for the operator. */
const BUCKET_BADGE: readonly BadgeCase<HeatStatus>[] = [
  { when: { bucket: 'HOT' }, tone: 'stop' },
  { when: { bucket: 'WARM' }, tone: 'info' },
  { tone: 'neutral' },
];

type StreamEntry = [id: string, fields: string[]];
type Ctx = StatusReadContext<HeatGateConfig>;

/** The calibrated stream's newest entries: one read shared by the sections (same part name). */
export function readCalibrated(ctx: Ctx): Promise<StreamEntry[] | null> {
  const stream = ctx.config?.P26_OUTPUT_STREAM ?? streams.harvestCalibrated;
  return ctx.read('heat history', () => ctx.redis.xrevrange(stream, '+', '-', 'COUNT', HISTORY_SIZE));
}

export const heatSection = defineStatusSection<HeatGateConfig, HeatStatus>({
  key: 'heat',
  title: 'Portfolio heat',
  order: 10,
  views: [
    {
      shape: 'fields',
      only: 'page',
      caption: 'Latest heat written by the heat gate (`quantum:portfolio:heat`)',
      fields: [
        { key: 'value', label: 'Heat', format: 'number', digits: 4, missingFrom: 'unknown' },
        { key: 'bucket', label: 'Bucket', badge: BUCKET_BADGE },
        { key: 'updated_at', name: 'updated', label: 'Updated', format: 'time', ago: true, missing: 'never' },
        {
          key: 'thresholds',
          label: 'Thresholds',
          bands: HEAT_BANDS,
          // Known only where the gate is hosted (its settings).
          missing: 'not known here (the heat gate is not hosted by this process)',
        },
      ],
    },
    {
      shape: 'series',
      only: 'page',
      points: 'history',
      x: 'at',
      y: 'heat',
      tag: 'bucket',
      name: 'heat',
      mark: 'steps',
      bands: { at: 'thresholds', axis: 'y', ...HEAT_BANDS },
      label: 'Portfolio heat history',
      pointsAre: 'decisions',
      empty: 'No measured heat yet (a decision that failed closed measured none).',
      caption:
        "Heat at each of the most recent heat-gate decisions (`quantum:stream:harvest.calibrated`), oldest on the left: it holds between two decisions, so the line steps. Point at the line for a decision's heat and time.",
    },
    {
      shape: 'sentence',
      only: 'terminal',
      parts: [
        'portfolio heat ',
        { key: 'value', format: 'number', digits: 4, missing: '-', missingFrom: 'unknown' },
        { key: 'bucket', before: ' ' },
        { key: 'thresholds', bands: HEAT_BANDS, before: ' (', after: ')' },
        { key: 'updated_at', format: 'time', before: ', updated ' },
      ],
    },
  ],
  async read(ctx) {
    const [hash, entries] = await Promise.all([
      ctx.read('portfolio heat', () => ctx.redis.hgetall(keys.portfolioHeat)),
      readCalibrated(ctx),
    ]);
    if (hash === null && entries === null) return null;
    const newest = entries?.[0] === undefined ? undefined : calibratedEntryReader.safeParse(fieldsToRecord(entries[0][1])).data;
    const unknownCause = newest?.fail_closed_cause;
    return {
      // The heat a fail-closed decision wrote (0, COLD) was never measured: not shown as if it were.
      value: unknownCause === undefined ? numberOrNull(hash?.heat) : null,
      bucket: unknownCause === undefined ? hash?.bucket || null : null,
      unknown: unknownCause === undefined ? null : `unknown (${unknownCause})`,
      fail_closed: entries ? recentWith('fail_closed_cause', entries, ctx.now()) : null,
      lower_bound: entries ? recentWith('heat_lower_bound', entries, ctx.now()) : null,
      updated_at: numberOrNull(hash?.updated_at),
      // Known only where the gate is hosted (its settings); elsewhere the page says so.
      thresholds: ctx.config ? { min: ctx.config.HEAT_MIN, max: ctx.config.HEAT_MAX } : null,
      history: entries ? heatHistory(entries) : [],
    };
  },
  headline: (heat) => [...failClosedLine(heat), ...lowerBoundLine(heat)],
});

/** The headline's DEGRADED line for decisions taken HOT on a lower bound: a figure refused, HOT proven without it. */
function lowerBoundLine(heat: HeatStatus | null): SectionHeadlineReason[] {
  return heat?.lower_bound
    ? [
        {
          state: 'DEGRADED',
          text:
            `heat gate decided HOT on a lower bound on ${heat.lower_bound.count} decision${heat.lower_bound.count === 1 ? '' : 's'} ` +
            `in enforce in the last ${FAIL_CLOSED_WINDOW_MS / 60_000} min (${heat.lower_bound.cause}): a position figure is refused, ` +
            'and the figures trusted alone already reach HEAT_MAX; the heat shown is at least that',
          since: heat.lower_bound.since,
        },
      ]
    : [];
}

/** The headline's DEGRADED line for fail-closed decisions. */
function failClosedLine(heat: HeatStatus | null): SectionHeadlineReason[] {
  return heat?.fail_closed
    ? [
        {
          state: 'DEGRADED',
          text:
            heat.fail_closed.cause === 'book_unreadable'
              ? `heat gate could not read the position book on ${heat.fail_closed.count} decision${heat.fail_closed.count === 1 ? '' : 's'} ` +
                `in enforce in the last ${FAIL_CLOSED_WINDOW_MS / 60_000} min (book_unreadable): heat unknown, taken as COLD, so every FULL_CLOSE becomes PARTIAL_25; /ready names the key`
              : `heat gate failed closed on ${heat.fail_closed.count} decision${heat.fail_closed.count === 1 ? '' : 's'} in enforce ` +
                `in the last ${FAIL_CLOSED_WINDOW_MS / 60_000} min (${heat.fail_closed.cause}): heat unknown, taken as COLD, ` +
                `so every FULL_CLOSE becomes PARTIAL_25${heat.fail_closed.cause === 'portfolio_state_missing' ? '; check quantum:state:portfolio (its equity)' : ''}`,
          since: heat.fail_closed.since,
        },
      ]
    : [];
}

/**
 * The decisions in enforce within the window before `now` that carry `field` (fail_closed_cause,
 * heat_lower_bound): how many, the newest's value, the oldest's time.
 */
function recentWith(
  field: 'fail_closed_cause' | 'heat_lower_bound',
  newestFirstEntries: readonly StreamEntry[],
  now: number,
): HeatStatus['fail_closed'] {
  let count = 0;
  let cause: string | undefined;
  let since = now;
  for (const [id, list] of newestFirstEntries) {
    const at = entryTime(id);
    if (at < now - FAIL_CLOSED_WINDOW_MS) break;
    const fields = calibratedEntryReader.safeParse(fieldsToRecord(list)).data;
    const value = fields?.[field];
    if (value === undefined || fields?.mode !== 'enforce') continue;
    count += 1;
    cause ??= value;
    since = at;
  }
  return cause === undefined ? null : { count, cause, since };
}

export const heatDecisionsSection = decisionsSection<HeatGateConfig>(async (ctx) => {
  const entries = await readCalibrated(ctx);
  return entries === null ? null : heatDecisions(entries, DECISION_LIMIT);
});

/** The heat gate's decisions, oldest first, as chart points (time of the decision entry). */
export function heatHistory(newestFirstEntries: readonly StreamEntry[]): HeatPoint[] {
  const points: HeatPoint[] = [];
  for (const [id, list] of newestFirstEntries) {
    const parsed = calibratedEntryReader.safeParse(fieldsToRecord(list));
    if (!parsed.success) continue;
    const fields = parsed.data;
    // A fail-closed decision carries no real heat (0.0): not a point of the chart.
    if (fields.fail_closed_cause !== undefined) continue;
    const heat = numberOrNull(fields.heat_value);
    if (heat === null) continue;
    points.push({ at: entryTime(id), heat, bucket: fields.heat_bucket || null });
  }
  return points.reverse();
}

/** The heat gate's decisions, newest first: proposals it calibrated down, and those it kept. */
export function heatDecisions(newestFirstEntries: readonly StreamEntry[], limit: number): Decision[] {
  const out: Decision[] = [];
  for (const [id, list] of newestFirstEntries) {
    if (out.length >= limit) break;
    const parsed = calibratedEntryReader.safeParse(fieldsToRecord(list));
    if (!parsed.success) continue;
    const f = parsed.data;
    // `calibrated` is "true" on every entry (as the original wrote it): the actions tell a downgrade.
    const downgraded = f.original_action !== undefined && f.calibrated_action !== undefined && f.original_action !== f.calibrated_action;
    const value = numberOrNull(f.heat_value);
    const heat = f.heat_value === undefined ? '' : `heat ${value === null ? f.heat_value : heatText(value)}`;
    out.push({
      at: entryTime(id),
      kind: downgraded ? 'downgrade' : 'kept',
      gate: 'heat-gate',
      symbol: f.symbol || null,
      plan_id: f.plan_id || null,
      action: downgraded
        ? `${f.original_action ?? '?'} → ${f.calibrated_action ?? '?'}`
        : (f.original_action ?? f.calibrated_action ?? null),
      reason: f.fail_closed_cause ? `${f.reason ?? ''} (fail-closed: ${f.fail_closed_cause})` : f.reason || null,
      detail: [heat, f.heat_bucket ?? ''].filter(Boolean).join(' ') || null,
      mode: f.mode || null,
      id,
    });
  }
  return out;
}

function numberOrNull(value: string | undefined | null): number | null {
  return parseNumber(value) ?? null;
}
