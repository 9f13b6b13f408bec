import type { RedisReader, StatusSectionDeclaration } from '../../runtime/host/index.js';
import { SHADOW_SUMMARY, SHADOW_UNEXPLAINED } from './namespace.js';

/** An unexplained pair as the pairing keeps it (cli/shadow/pair.ts Pair), both verdicts side by side. */
interface KeptPair {
  readonly gate: string;
  readonly id: string;
  readonly label: string;
  readonly symbol?: string;
  readonly incumbent: string;
  readonly shadow: string;
  readonly changes: readonly { readonly field: string }[];
}

export interface ShadowStatus {
  /** running: paired within the last minute; stopped: a run's counts stay; none: no shadow has run on this Redis. */
  readonly state: 'running' | 'stopped' | 'none';
  readonly incumbent: string | null;
  readonly compared: number;
  readonly same: number;
  readonly documented: number;
  readonly unexplained: number;
  readonly unpaired: number;
  /** Entries of the shadowed streams its groups have not read, summed over its gates. */
  readonly lag_entries: number | null;
  /** How far behind the streams the comparison is: now minus the newest input it settled, at worst over its gates (s). */
  readonly behind_sec: number | null;
  readonly paired_at: number | null;
  /** The verdict differences that change exposure, priced per horizon as `shadow report` prices them (cli/shadow/live.ts). */
  readonly priced: readonly { readonly gate: string; readonly difference: string; readonly pnl: string }[];
  readonly last_unexplained: readonly {
    readonly gate: string;
    readonly input: string;
    readonly symbol: string | null;
    readonly incumbent: string;
    readonly shadow: string;
    readonly fields: string;
  }[];
}

/** A pairing more than this old: the shadow has stopped (it pairs every 5 s). */
const RUNNING_WITHIN_MS = 60_000;
const SHOWN = 5;

const count = (value: string | undefined) => (value === undefined ? 0 : Number(value));

/** The priced rows as the pairing wrote them; none when absent or unreadable. */
function pricedOf(text: string | undefined): ShadowStatus['priced'] {
  if (text === undefined) return [];
  try {
    const rows = JSON.parse(text) as unknown;
    return Array.isArray(rows)
      ? rows.flatMap((r: Record<string, unknown>) =>
          typeof r.gate === 'string' && typeof r.difference === 'string' && typeof r.pnl === 'string'
            ? [{ gate: r.gate, difference: r.difference, pnl: r.pnl }]
            : [],
        )
      : [];
  } catch {
    return [];
  }
}

export async function readShadowStatus(redis: Pick<RedisReader, 'hgetall' | 'xrevrange'>, now: number): Promise<ShadowStatus> {
  const summary = await redis.hgetall(SHADOW_SUMMARY);
  const pairedAt = summary.at === undefined ? null : Number(summary.at);
  const lags = Object.entries(summary).filter(([field]) => field.startsWith('lag:'));
  const upTo = Object.entries(summary)
    .filter(([field]) => field.startsWith('paired_up_to:'))
    .map(([, value]) => Number(value));
  const kept = await redis.xrevrange(SHADOW_UNEXPLAINED, '+', '-', 'COUNT', SHOWN);
  return {
    state: pairedAt === null ? 'none' : now - pairedAt < RUNNING_WITHIN_MS ? 'running' : 'stopped',
    incumbent: summary.incumbent ?? null,
    compared: count(summary.compared),
    same: count(summary.same),
    documented: count(summary.documented),
    unexplained: count(summary.unexplained),
    unpaired: count(summary.unpaired),
    lag_entries: lags.length === 0 ? null : lags.reduce((sum, [, value]) => sum + Number(value), 0),
    behind_sec: upTo.length === 0 ? null : Math.max(0, Math.round((now - Math.min(...upTo)) / 1000)),
    paired_at: pairedAt,
    priced: pricedOf(summary.priced),
    last_unexplained: kept.flatMap(([, fields]) => {
      try {
        const pair = JSON.parse(fields[fields.indexOf('pair') + 1] ?? '') as KeptPair;
        const input = `${pair.label} (${pair.id})`;
        const changed = pair.changes.map((c) => c.field).join('; ');
        return [{ gate: pair.gate, input, symbol: pair.symbol ?? null, incumbent: pair.incumbent, shadow: pair.shadow, fields: changed }];
      } catch {
        return [];
      }
    }),
  };
}

/**
 * The shadow beside the incumbent (docs/shadow.md), as its live pairing last counted: read from
 * quantum:shadow:, which only the shadow writes. Shown by every gates' process, since the shadow
 * is a process of its own with no page.
 */
export const shadowSection: StatusSectionDeclaration<unknown, ShadowStatus> = {
  key: 'shadow',
  title: 'Shadow beside the incumbent (quantum:shadow:)',
  shortTitle: 'Shadow',
  views: [
    {
      shape: 'fields',
      caption:
        'A release deciding the live traffic beside the running gates, writing nothing the pipeline reads: `quantum-gates shadow report`',
      fields: [
        {
          key: 'state',
          label: 'Shadow',
          badge: [
            { when: { state: 'running' }, text: 'running', tone: 'info' },
            { when: { state: 'stopped' }, text: 'stopped (its last run)', tone: 'muted', terminal: 'stopped (its last run)' },
            { text: 'none has run', tone: 'muted', terminal: 'none has run' },
          ],
        },
        { key: 'incumbent', label: 'Beside', missing: '–' },
        { key: 'compared', label: 'Decisions compared', format: 'count' },
        { key: 'same', label: 'The same', format: 'count' },
        { key: 'documented', label: 'Documented differences', format: 'count' },
        {
          key: 'unexplained',
          label: 'Unexplained',
          format: 'count',
          badge: [{ when: { unexplained: 0 }, text: '0', tone: 'ok' }, { tone: 'warn' }],
        },
        { key: 'unpaired', label: 'Decided by one side only', format: 'count' },
        { key: 'lag_entries', label: 'Lag behind the stream (entries)', format: 'count', missing: '–' },
        { key: 'behind_sec', label: 'Compared up to (s ago)', format: 'count', missing: '–' },
        { key: 'paired_at', label: 'Last paired', format: 'time', ago: true, missing: '–' },
      ],
    },
    {
      shape: 'table',
      rows: 'priced',
      caption:
        "Verdict differences priced by the outcome follow-ups: the PnL of the shadow's verdict against the incumbent's, per horizon, with `report calibrate`'s 90 % interval or why there is none",
      empty: 'None priced: no verdict difference that changes exposure, or none the outcome follow-ups know.',
      columns: [
        { key: 'gate', label: 'Gate' },
        { key: 'difference', label: 'Difference' },
        { key: 'pnl', label: 'PnL at the horizon' },
      ],
    },
    {
      shape: 'table',
      rows: 'last_unexplained',
      caption: 'The last unexplained verdict differences, both decisions side by side (`quantum:shadow:unexplained`)',
      empty: 'None.',
      columns: [
        { key: 'gate', label: 'Gate' },
        { key: 'input', label: 'Input', format: 'code' },
        { key: 'symbol', label: 'Symbol', missing: '–' },
        { key: 'incumbent', label: 'Incumbent decided', format: 'code' },
        { key: 'shadow', label: 'Shadow decided', format: 'code' },
        { key: 'fields', label: 'Fields that differ', terminal: false },
      ],
    },
  ],
  read: (ctx) => ctx.read('shadow', () => readShadowStatus(ctx.redis, ctx.now())),
  headline: (status) =>
    status !== null && status.unexplained > 0
      ? [
          {
            state: 'NOTE',
            text: `the shadow found ${status.unexplained} unexplained verdict difference(s): quantum-gates shadow report`,
            since: null,
          },
        ]
      : [],
};
