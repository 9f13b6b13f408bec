import { csvCell, isoTime, table } from '../output.js';
import { SHADOW_DECISION_KEYS, type GroupStats, type HeatBin, type ShadowDecision, type ShadowReport } from './shadow.js';

export interface ReportWindow {
  readonly stream: string;
  readonly from: number;
  readonly to: number;
}

const pct = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(1)}%`);
const num = (value: number | null, digits = 4) => (value === null ? '-' : value.toFixed(digits));

function binLabel(bin: HeatBin): string {
  return bin.to === null ? `>= ${bin.from.toFixed(2)}` : `${bin.from.toFixed(2)}-${bin.to.toFixed(2)}`;
}

/** Calibrated actions seen among downgrades, so each gets a column. */
function targets(report: ShadowReport): string[] {
  return Object.keys(report.total.downgradedTo).sort();
}

function groupTable(label: string, groups: Record<string, GroupStats>, to: readonly string[]): string {
  return table(
    [label, 'DECISIONS', 'FULL_CLOSE', 'DOWNGRADED', 'RATE', ...to.map((t) => `-> ${t}`)],
    Object.entries(groups).map(([name, g]) => [
      name,
      g.decisions,
      g.fullClose,
      g.downgraded,
      pct(g.downgradeRate),
      ...to.map((t) => g.downgradedTo[t] ?? 0),
    ]),
  );
}

export function formatText(report: ShadowReport, window: ReportWindow): string {
  const to = targets(report);
  const t = report.total;
  const lines = [
    `Shadow compare from ${window.stream}`,
    `window ${isoTime(window.from)} .. ${isoTime(window.to)}`,
    '',
    `${report.entries} decisions, ${t.fullClose} FULL_CLOSE proposals, ${t.downgraded} downgraded (${pct(t.downgradeRate)})` +
      (to.length > 0 ? `: ${to.map((x) => `${t.downgradedTo[x]} to ${x}`).join(', ')}` : ''),
    `${report.failClosed} fail-closed (no heat: missing or invalid portfolio data, or a gate error)` +
      (report.unreadable > 0 ? `; ${report.unreadable} entries without original/calibrated action skipped` : ''),
    `modes: ${
      Object.entries(report.byMode)
        .map(([m, n]) => `${m} ${n}`)
        .join(', ') || '-'
    }`,
  ];
  if (report.entries === 0) return [...lines, '', 'No decisions in this window.'].join('\n');
  lines.push('', 'By heat bucket', groupTable('BUCKET', report.byBucket, to), '', 'By symbol', groupTable('SYMBOL', report.bySymbol, to));
  const reasons = Object.entries(report.fullCloseReasons).sort((a, b) => b[1] - a[1]);
  if (reasons.length > 0) lines.push('', 'FULL_CLOSE decisions by reason', table(['REASON', 'COUNT'], reasons));
  const h = report.heat;
  lines.push(
    '',
    `Heat distribution: n=${h.count} min=${num(h.min)} p50=${num(h.p50)} mean=${num(h.mean)} p90=${num(h.p90)} max=${num(h.max)}`,
  );
  if (h.count > 0) {
    const peak = Math.max(...h.histogram.map((b) => b.count));
    lines.push(
      table(
        ['HEAT', 'COUNT', ''],
        h.histogram.map((bin) => [binLabel(bin), bin.count, '#'.repeat(peak === 0 ? 0 : Math.round((bin.count / peak) * 40))]),
      ),
    );
  }
  return lines.join('\n');
}

/**
 * One long-format table, `section,group,metric,value`, so every part of the report fits one
 * CSV that a spreadsheet can pivot.
 */
export function formatCsv(report: ShadowReport, window: ReportWindow): string {
  const rows: (string | number)[][] = [['section', 'group', 'metric', 'value']];
  rows.push(
    ['window', 'all', 'from', isoTime(window.from)],
    ['window', 'all', 'to', isoTime(window.to)],
    ['window', 'all', 'stream', window.stream],
  );
  const group = (section: string, name: string, g: GroupStats) => {
    rows.push(
      [section, name, 'decisions', g.decisions],
      [section, name, 'full_close', g.fullClose],
      [section, name, 'downgraded', g.downgraded],
      [section, name, 'downgrade_rate', g.downgradeRate === null ? '' : round(g.downgradeRate)],
    );
    for (const [action, n] of Object.entries(g.downgradedTo)) rows.push([section, name, `downgraded_to_${action}`, n]);
  };
  group('total', 'all', report.total);
  rows.push(['total', 'all', 'fail_closed', report.failClosed], ['total', 'all', 'unreadable', report.unreadable]);
  for (const [name, g] of Object.entries(report.byBucket)) group('bucket', name, g);
  for (const [name, g] of Object.entries(report.bySymbol)) group('symbol', name, g);
  for (const [mode, n] of Object.entries(report.byMode)) rows.push(['mode', mode, 'decisions', n]);
  for (const [reason, n] of Object.entries(report.fullCloseReasons)) rows.push(['full_close_reason', reason, 'decisions', n]);
  const h = report.heat;
  for (const stat of ['count', 'min', 'p50', 'mean', 'p90', 'max'] as const)
    rows.push(['heat', 'all', stat, h[stat] === null ? '' : round(h[stat])]);
  for (const bin of h.histogram) rows.push(['heat_histogram', binLabel(bin), 'count', bin.count]);
  return rows.map((row) => row.map(csvCell).join(',')).join('\n');
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** One row per decision, with the keys --json --per-decision uses as the header. */
export function formatDecisionsCsv(decisions: readonly ShadowDecision[]): string {
  const rows: (string | number)[][] = [[...SHADOW_DECISION_KEYS]];
  for (const decision of decisions) rows.push(SHADOW_DECISION_KEYS.map((key) => decision[key] ?? ''));
  return rows.map((row) => row.map(csvCell).join(',')).join('\n');
}
