import { heatText } from '../../domain/heat.js';
import type { WhatIfPnl } from './calibrate-common.js';
import type { CalibrateReport } from './calibrate.js';

/** `report calibrate` as text and as CSV (section,group,metric,value: one row per number). */

const usd = (v: number | null) => (v === null ? '—' : `${v < 0 ? '-' : ''}$${Math.abs(v).toFixed(2)}`);
const num = (v: number | null) => (v === null ? '—' : heatText(v));
/** A duration in ms as a reader takes it: hours, minutes or seconds, whichever shows it best. */
const duration = (ms: number) =>
  ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(2)} h` : ms >= 60_000 ? `${(ms / 60_000).toFixed(2)} min` : `${(ms / 1000).toFixed(3)} s`;

/** "n 3 priced, 1 no price, 2 no sample: total $-12.00, worst $-8.00, drawdown $12.00, 90% [..]" */
export function pnlLine(p: WhatIfPnl): string {
  // Without an interval the first warning says why ("not enough independent data …").
  const interval = p.interval90 ? `, 90% [${usd(p.interval90[0])}, ${usd(p.interval90[1])}] over ${p.blocks} blocks of time` : '';
  const counts = `${p.horizon.padStart(4)}: ${p.priced} priced, ${p.missingPrice} no price, ${p.noSample} no sample`;
  if (p.priced === 0) return `${counts}; no PnL known`;
  return (
    `${counts}; ` +
    `total ${usd(p.totalPnlUsd)}${p.pnlBps === null ? '' : ` (${p.pnlBps} bps)`}, hit rate ${p.hitRate === null ? '—' : `${Math.round(p.hitRate * 100)} %`}, ` +
    `worst ${usd(p.worstExcursionUsd)}, drawdown ${usd(p.maxDrawdownUsd)}${interval}` +
    (p.warnings.length > 0 ? `; ${p.warnings.join('; ')}` : '')
  );
}

/** "over random halves of the record HEAT_MIN 0.0011–0.0016, HEAT_MAX 0.0017–0.002" */
function spreadOf(p: CalibrateReport['heatProposals'][number]['proposal']): string {
  const range = ([lo, hi]: readonly [number, number]) => (lo === hi ? `${lo}` : `${lo}–${hi}`);
  return `over random halves of the record HEAT_MIN ${range(p.spread.min)}, HEAT_MAX ${range(p.spread.max)}`;
}

/** One threshold pair's lines: what it decides, then its PnL per horizon. */
function heatRow(w: CalibrateReport['heatWhatIf'][number], indent = ''): string[] {
  const to =
    Object.entries(w.downgradedTo)
      .map(([a, n]) => `${n} → ${a}`)
      .join(', ') || 'none';
  return [
    `${indent}  HEAT_MIN ${w.heatMin} HEAT_MAX ${w.heatMax}${w.configured ? ' (configured)' : ''}: ${w.downgraded} of ${w.fullCloses} full closes downgraded (${to}); ${w.changedFromRecorded} differ from the record`,
    ...w.pnl.map((p) => `${indent}    ${pnlLine(p)}`),
  ];
}

export function formatCalibrateText(report: CalibrateReport, window: { from: number; to: number; streams: string }): string {
  const h = report.heat;
  const out = [
    `Calibration, ${new Date(window.from).toISOString()} → ${new Date(window.to).toISOString()} (${window.streams})`,
    `headline: ${report.headline}`,
    '',
    `Heat as it was (${h.decisions} decisions, ${h.untrusted} without a trusted heat; HEAT_MIN ${report.thresholds.min}, HEAT_MAX ${report.thresholds.max})`,
    `  min ${num(h.min)}  p5 ${num(h.percentiles.p5)}  p25 ${num(h.percentiles.p25)}  p50 ${num(h.percentiles.p50)}  p75 ${num(h.percentiles.p75)}  p95 ${num(h.percentiles.p95)}  max ${num(h.max)}  mean ${num(h.mean)}`,
    `  time in bucket: COLD ${duration(h.msInBucket.COLD)}, WARM ${duration(h.msInBucket.WARM)}, HOT ${duration(h.msInBucket.HOT)}, unknown ${duration(h.msInBucket.UNKNOWN)}` +
      (h.msWithoutReading > 0 ? `; ${duration(h.msWithoutReading)} between readings (pauses past a reading's validity, in no bucket)` : ''),
  ];
  if (h.bySymbol.length > 0) {
    out.push('  by symbol (mean heat, largest, share of the heat):');
    for (const s of h.bySymbol)
      out.push(
        `    ${s.symbol.padEnd(14)} ${num(s.meanHeat).padStart(10)} ${num(s.maxHeat).padStart(10)} ${(s.shareOfHeat * 100).toFixed(1).padStart(6)} %`,
      );
  }
  out.push('', "Heat gate what-if (full closes decided again by the gate's rule; PnL of the downgrades against closing in full)");
  for (const w of report.heatWhatIf) out.push(...heatRow(w));
  out.push(
    '',
    'Proposed thresholds (HEAT_MIN and HEAT_MAX placed in the heat of the recorded full closes so that the stated shares would be COLD, WARM and HOT)',
  );
  if (report.heatProposalsNone !== null) out.push(`  none: ${report.heatProposalsNone}`);
  for (const { proposal, whatIf } of report.heatProposals) {
    out.push(`  ${proposal.rule}; ${spreadOf(proposal)}:`);
    out.push(...heatRow(whatIf, '  '));
  }
  out.push('', "Governor what-if (opens decided again by the governor's rules, each against the book as recorded)");
  for (const g of report.governorWhatIf) {
    const by =
      Object.entries(g.blockedBy)
        .map(([r, n]) => `${r} ${n}`)
        .join(', ') || 'none';
    out.push(
      `  ${g.caps}: per_trade ${g.limits.maxNotionalPerTrade}, total ${g.limits.maxTotalNotional}, positions ${g.limits.maxOpenPositions}, cooldown ${g.limits.cooldownSec} s`,
      `    opens permitted ${g.opens.permitted}, blocked ${g.opens.blocked} (${by}); newly permitted ${g.newlyPermitted.length}, newly blocked ${g.newlyBlocked.length}`,
    );
    if (g.newlyPermitted.length > 0) {
      out.push(`    newly permitted: ${g.newlyPermitted.join(', ')}`);
      for (const p of g.pnlNewlyPermitted) out.push(`    ${pnlLine(p)}`);
    }
    if (g.newlyBlocked.length > 0) {
      out.push(`    newly blocked: ${g.newlyBlocked.join(', ')}`);
      for (const p of g.pnlNewlyBlocked) out.push(`    ${pnlLine(p)}`);
    }
  }
  const r = report.reproduction;
  out.push(
    '',
    `Reproduction with the configured settings: heat ${r.heat.reproduced}/${r.heat.checked}, governor ${r.governor.reproduced}/${r.governor.checked}` +
      (r.governor.withoutInputs > 0 ? ` (${r.governor.withoutInputs} governor decisions recorded without inputs, not checked)` : ''),
  );
  for (const m of [...r.heat.mismatches, ...r.governor.mismatches])
    out.push(`  ${m.id}: recorded ${m.recorded}, recomputed ${m.recomputed}`);
  return out.join('\n') + '\n';
}

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function formatCalibrateCsv(report: CalibrateReport): string {
  const rows: string[][] = [['section', 'group', 'metric', 'value']];
  const add = (section: string, group: string, metric: string, value: number | string | null) =>
    rows.push([section, group, metric, value === null ? '' : String(value)]);
  const h = report.heat;
  add('headline', '', 'text', report.headline);
  add('heat', 'all', 'decisions', h.decisions);
  add('heat', 'all', 'untrusted', h.untrusted);
  add('heat', 'all', 'min', h.min);
  add('heat', 'all', 'max', h.max);
  add('heat', 'all', 'mean', h.mean);
  for (const [p, v] of Object.entries(h.percentiles)) add('heat', 'all', p, v);
  for (const [b, v] of Object.entries(h.msInBucket)) add('heat', `bucket ${b}`, 'ms', v);
  add('heat', 'between readings', 'ms', h.msWithoutReading);
  for (const s of h.bySymbol) {
    add('heat', s.symbol, 'mean_heat', s.meanHeat);
    add('heat', s.symbol, 'max_heat', s.maxHeat);
    add('heat', s.symbol, 'share_of_heat', s.shareOfHeat);
  }
  for (const w of report.heatWhatIf) {
    const group = `${w.heatMin}:${w.heatMax}`;
    add('heat_what_if', group, 'full_closes', w.fullCloses);
    add('heat_what_if', group, 'downgraded', w.downgraded);
    for (const [a, n] of Object.entries(w.downgradedTo)) add('heat_what_if', group, `to ${a}`, n);
    add('heat_what_if', group, 'changed_from_recorded', w.changedFromRecorded);
    for (const p of w.pnl) pnlRows(add, 'heat_what_if', group, p);
  }
  for (const { proposal, whatIf: w } of report.heatProposals) {
    const group = `${w.heatMin}:${w.heatMax}`;
    add('heat_proposal', group, 'rule', proposal.rule);
    add('heat_proposal', group, 'heat_min_halves_p5', proposal.spread.min[0]);
    add('heat_proposal', group, 'heat_min_halves_p95', proposal.spread.min[1]);
    add('heat_proposal', group, 'heat_max_halves_p5', proposal.spread.max[0]);
    add('heat_proposal', group, 'heat_max_halves_p95', proposal.spread.max[1]);
    add('heat_proposal', group, 'downgraded', w.downgraded);
    for (const [a, n] of Object.entries(w.downgradedTo)) add('heat_proposal', group, `to ${a}`, n);
    add('heat_proposal', group, 'changed_from_recorded', w.changedFromRecorded);
    for (const p of w.pnl) pnlRows(add, 'heat_proposal', group, p);
  }
  for (const g of report.governorWhatIf) {
    add('governor_what_if', g.caps, 'opens_permitted', g.opens.permitted);
    add('governor_what_if', g.caps, 'opens_blocked', g.opens.blocked);
    add('governor_what_if', g.caps, 'newly_permitted', g.newlyPermitted.length);
    add('governor_what_if', g.caps, 'newly_blocked', g.newlyBlocked.length);
    for (const p of g.pnlNewlyPermitted) pnlRows(add, 'governor_what_if', `${g.caps} newly permitted`, p);
    for (const p of g.pnlNewlyBlocked) pnlRows(add, 'governor_what_if', `${g.caps} newly blocked`, p);
  }
  add('reproduction', 'heat', 'checked', report.reproduction.heat.checked);
  add('reproduction', 'heat', 'reproduced', report.reproduction.heat.reproduced);
  add('reproduction', 'governor', 'checked', report.reproduction.governor.checked);
  add('reproduction', 'governor', 'reproduced', report.reproduction.governor.reproduced);
  return rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

function pnlRows(
  add: (s: string, g: string, m: string, v: number | string | null) => void,
  section: string,
  group: string,
  p: WhatIfPnl,
): void {
  add(section, group, `${p.horizon} priced`, p.priced);
  add(section, group, `${p.horizon} missing_price`, p.missingPrice);
  add(section, group, `${p.horizon} no_sample`, p.noSample);
  add(section, group, `${p.horizon} total_pnl_usd`, p.totalPnlUsd);
  add(section, group, `${p.horizon} worst_excursion_usd`, p.worstExcursionUsd);
  add(section, group, `${p.horizon} max_drawdown_usd`, p.maxDrawdownUsd);
  add(section, group, `${p.horizon} pnl_bps`, p.pnlBps);
  add(section, group, `${p.horizon} hit_rate`, p.hitRate);
  add(section, group, `${p.horizon} interval90_low`, p.interval90?.[0] ?? null);
  add(section, group, `${p.horizon} interval90_high`, p.interval90?.[1] ?? null);
  add(section, group, `${p.horizon} interval_blocks`, p.blocks);
  for (const w of p.warnings) add(section, group, `${p.horizon} warning`, w);
}
