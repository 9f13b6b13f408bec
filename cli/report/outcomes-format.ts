import type { Outcome } from '../../schemas/outcome.js';
import type { GroupOutcome, OutcomesReport } from './outcomes.js';

const usd = (v: number | null) => (v === null ? '—' : `${v < 0 ? '-' : ''}$${Math.abs(v).toFixed(2)}`);

function line(name: string, g: GroupOutcome): string {
  const interval = g.interval90
    ? `[${usd(g.interval90[0])}, ${usd(g.interval90[1])}] over ${g.blocks} blocks`
    : g.used > 0
      ? 'not enough independent data'
      : '—';
  return (
    `  ${name.padEnd(16)} ${String(g.decisions).padStart(6)} ${String(g.missingPrice).padStart(7)} ${String(g.lateEntry).padStart(7)} ` +
    `${String(g.sampleLate).padStart(7)} ${usd(g.totalPnlUsd).padStart(12)} ` +
    `${usd(g.medianPnlUsd).padStart(10)} ${usd(g.worstPnlUsd).padStart(11)} ${usd(g.maxDrawdownUsd).padStart(11)}  ${interval}`
  );
}

export function formatOutcomesText(report: OutcomesReport, window: { stream: string; from: number; to: number }): string {
  const out = [
    `Outcomes of decisions that changed exposure, ${new Date(window.from).toISOString()} → ${new Date(window.to).toISOString()} (${window.stream})`,
    `${report.samples} samples. Counterfactual PnL of each decision against its proposal, marked to market (no fees, slippage or funding: docs/outcomes.md).`,
    `no px: no price at the sample (left out); late in: entry price read late by the follow-up (left out); late px: sample taken after its horizon (included).`,
    '',
  ];
  for (const h of report.horizons) {
    out.push(`horizon ${h.horizon}`);
    out.push(
      `  ${'group'.padEnd(16)} ${'n'.padStart(6)} ${'no px'.padStart(7)} ${'late in'.padStart(7)} ${'late px'.padStart(7)} ${'total'.padStart(12)} ${'median'.padStart(10)} ${'worst'.padStart(11)} ${'drawdown'.padStart(11)}  90% interval of total (blocks of time)`,
    );
    out.push(line('overall', h.overall));
    for (const [k, g] of Object.entries(h.byKind)) out.push(line(k, g));
    for (const [k, g] of Object.entries(h.byBucket)) out.push(line(`bucket ${k}`, g));
    for (const [k, g] of Object.entries(h.bySymbol)) out.push(line(k, g));
    for (const v of h.verdicts) out.push(`  verdict, ${v.text}`);
    out.push('');
  }
  out.push(`all gates together: ${report.verdict}`);
  return out.join('\n') + '\n';
}

const CSV_COLUMNS = [
  'decision_id',
  'kind',
  'symbol',
  'plan_id',
  'bucket',
  'mode',
  'proposed_action',
  'decided_action',
  'horizon',
  'decided_at',
  'sampled_at',
  'exposure_usd',
  'entry_price',
  'price',
  'pnl_usd',
  'worst_pnl_usd',
  'entry_source',
  'followed_at',
  'read_late',
  'sample_late',
  'late_bound_sec',
  'missing_reason',
  'price_source',
  'price_at',
  'price_age_ms',
  'entry_price_source',
  'entry_price_at',
  'entry_price_age_ms',
] as const;

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One row per decision and horizon, with the same names as --json. */
export function formatOutcomesCsv(samples: readonly Outcome[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const s of samples) {
    const cells = CSV_COLUMNS.map((column) => {
      const value = s[column];
      if (column === 'decided_at' || column === 'sampled_at') return new Date(value as number).toISOString();
      if ((column === 'followed_at' || column === 'price_at' || column === 'entry_price_at') && typeof value === 'number')
        return new Date(value).toISOString();
      if (typeof value === 'boolean') return value ? '1' : '0';
      return value === undefined ? '' : String(value);
    });
    rows.push(cells.map(csvCell).join(','));
  }
  return rows.join('\n') + '\n';
}
