import { isoTime, table, truncate } from '../output.js';
import { pnlLine } from '../report/calibrate-format.js';
import type { PricedDifference } from './price.js';
import type { ShadowReport } from './report.js';

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

const PRICED: Record<PricedDifference['kind'], (n: number) => string> = {
  would_block: (n) => `the shadow would have blocked ${plural(n, 'plan')} the incumbent permitted`,
  would_permit: (n) => `the shadow would have permitted ${plural(n, 'plan')} the incumbent blocked`,
  would_calibrate_otherwise: (n) => `the shadow would have calibrated ${plural(n, 'proposal')} otherwise`,
};

/** One priced kind of difference at one horizon, as the CLI prints it and the status page shows it. */
export interface PricedRow {
  readonly gate: string;
  /** What the shadow would have done, and the plans (the first `examples`). */
  readonly difference: string;
  /** The horizon's PnL line, with its interval or why there is none (`report calibrate`'s). */
  readonly pnl: string;
}

/** Each priced kind of difference, a row per horizon (shortest first). */
export function pricedRows(priced: readonly PricedDifference[], examples: number): PricedRow[] {
  return priced.flatMap((p) => {
    const plans = p.plans.slice(0, examples).join(', ') + (p.plans.length > examples ? ', …' : '');
    const difference = `${PRICED[p.kind](p.differences)} (${plans})`;
    return p.pnl.map((h) => ({ gate: p.gate, difference, pnl: pnlLine(h).trimStart() }));
  });
}

/** Each priced kind of difference: what the shadow would have done, then its PnL against the incumbent's per horizon, with the interval or why there is none. */
export function formatPriced(priced: readonly PricedDifference[], examples: number): string[] {
  if (priced.length === 0) return [];
  const lines = ['', "Verdict differences priced by the outcome follow-ups (the PnL of the shadow's verdict against the incumbent's):"];
  let last: string | undefined;
  for (const row of pricedRows(priced, examples)) {
    const head = `  ${row.gate}: ${row.difference}`;
    if (head !== last) lines.push(head);
    last = head;
    lines.push(`      ${row.pnl}`);
  }
  return lines;
}

const INCUMBENT: Record<ShadowReport['incumbent'], string> = {
  current: 'the current release (its tape)',
  python: 'the Python services (their outputs)',
};

/** The report for a terminal: per gate the counts, then the unexplained pairs side by side, the documented ones by row, the unpaired inputs. */
export function formatShadowReport(report: ShadowReport, examples = 10): string {
  const lines = [`Shadow beside ${INCUMBENT[report.incumbent]}, at ${isoTime(report.at)}`, ''];
  if (report.gates.length === 0) {
    lines.push('No shadow has run on this Redis (quantum:shadow:state is empty): start one with `quantum-gates shadow --beside current`.');
    return lines.join('\n');
  }
  const count = (gate: string, cls: string) => report.pairs.filter((p) => p.gate === gate && p.class === cls).length;
  lines.push(
    table(
      ['GATE', 'INCUMBENT DECIDED', 'SHADOW DECIDED', 'COMPARED', 'SAME', 'DOCUMENTED', 'UNEXPLAINED', 'UNPAIRED', 'LAG'],
      report.gates.map((g) => [
        g.gate,
        g.incumbentDecided,
        g.shadowDecided,
        report.pairs.filter((p) => p.gate === g.gate).length,
        count(g.gate, 'same'),
        count(g.gate, 'documented'),
        count(g.gate, 'unexplained'),
        report.unpairedInputs.filter((u) => u.gate === g.gate).length,
        g.lag === null ? '?' : String(g.lag),
      ]),
    ),
    '',
    `Compared ${report.compared}: ${report.same} the same, ${report.documented} documented, ${report.unexplained} unexplained; ${report.unpaired} unpaired${report.waiting > 0 ? `, ${report.waiting} waiting for the other side` : ''}.`,
  );
  const unexplained = report.pairs.filter((p) => p.class === 'unexplained');
  if (unexplained.length > 0) {
    lines.push('', `Unexplained verdict differences (incumbent → shadow), the first ${Math.min(examples, unexplained.length)}:`);
    for (const pair of unexplained.slice(0, examples)) {
      lines.push(
        `  ${pair.gate} ${pair.label}${pair.symbol ? ` ${pair.symbol}` : ''} (input ${pair.id}): ${pair.incumbent} → ${pair.shadow}`,
      );
      for (const change of pair.changes.slice(0, 4))
        lines.push(`      ${change.field}: ${truncate(change.before ?? '(none)', 40)} → ${truncate(change.after ?? '(none)', 40)}`);
    }
  }
  lines.push(...formatPriced(report.priced, examples));
  const rows = new Map<string, number>();
  for (const pair of report.pairs) if (pair.row !== undefined) rows.set(pair.row, (rows.get(pair.row) ?? 0) + 1);
  if (rows.size > 0) {
    lines.push('', 'Documented differences, by their row of docs/migration.md:');
    for (const [row, n] of rows) lines.push(`  ${n} × ${row}`);
  }
  if (report.unpairedInputs.length > 0) {
    lines.push('', `Inputs only one side decided, the first ${Math.min(examples, report.unpairedInputs.length)}:`);
    for (const alone of report.unpairedInputs.slice(0, examples))
      lines.push(`  ${alone.gate} ${alone.label} (input ${alone.id}): only the ${alone.decidedBy} decided (${alone.verdict})`);
  }
  return lines.join('\n');
}
