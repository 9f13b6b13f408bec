import { isoTime, table, truncate } from '../output.js';
import { TAPE_VERSION } from '../../app/cli-door.js';
import type { RehearsalReport } from './rehearse.js';

/** What every rehearsal says of itself: it changes the code, never the history. */
export const REHEARSAL_MEANING =
  'same inputs, new code: each decision is re-decided on what its gate read when it ran (its own earlier decisions included), not on a history the new code would have made';

const shown = (value: string | undefined) => (value === undefined ? '(none)' : truncate(value, 60));

/** The rehearsal for a terminal: counts per gate and kind, then the first differences, then the reads the tape cannot answer. */
export function formatRehearsal(report: RehearsalReport): string {
  const lines = [
    `Rehearsal of ${report.release}: ${report.decisions} taped decisions${report.since === undefined ? '' : ` since ${isoTime(report.since)}`}`,
    `(${REHEARSAL_MEANING})`,
    `The tape: ${report.tape.redis}, ${report.tape.from === undefined ? 'no decisions' : `decisions taped ${isoTime(report.tape.from)} to ${isoTime(report.tape.to ?? report.tape.from)}`}`,
    '',
  ];
  if (report.decisions === 0) lines.push('The tape holds no decisions to rehearse.');
  else
    lines.push(
      table(
        ['GATE', 'DECISION', 'SAME', 'DIFFER', 'UNANSWERABLE'],
        report.kinds.map((k) => [k.gate, k.kind, k.same, k.differ, k.unanswerable]),
      ),
    );
  if (report.differences.length > 0) {
    lines.push('', 'Decisions that would change (the first ones of each gate):');
    for (const d of report.differences) {
      lines.push(`  ${d.gate} ${d.id}${d.symbol ? ` ${d.symbol}` : ''} (${d.kind}, entry ${d.entry})`);
      for (const c of d.changes) lines.push(`    ${c.field}: ${shown(c.before)} → ${shown(c.after)}`);
    }
    // The examples stop at a few per gate: say what they leave out, or five shown read as all seven.
    for (const gate of new Set(report.differences.map((d) => d.gate))) {
      const differ = report.kinds.filter((k) => k.gate === gate).reduce((sum, k) => sum + k.differ, 0);
      const left = differ - report.differences.filter((d) => d.gate === gate).length;
      if (left > 0) lines.push(`  ${gate}: ${left} more differ (${differ} in all)`);
    }
  }
  if (report.unanswerableReads.length > 0) {
    lines.push('', 'Reads the tape cannot answer (the rehearsed code reads what the running code did not):');
    lines.push(
      table(
        ['GATE', 'READ', 'DECISIONS', 'E.G.'],
        report.unanswerableReads.map((u) => [u.gate, u.read, u.decisions, u.example]),
      ),
    );
  }
  if (report.gatesNotInRelease.length > 0)
    lines.push('', `Taped gates the release does not have (their decisions not rehearsed): ${report.gatesNotInRelease.join(', ')}`);
  for (const o of report.otherVersions)
    lines.push(
      '',
      `${o.gate}: ${o.decisions} records of tape version ${o.version} (this release reads ${TAPE_VERSION}) not rehearsed, e.g. ${o.example}`,
    );
  if (report.undecodable.length > 0) {
    lines.push('', `Tape entries that do not decode, skipped (${report.undecodable.length}):`);
    for (const u of report.undecodable.slice(0, 10)) lines.push(`  ${u.gate} entry ${u.entry}: ${truncate(u.error, 80)}`);
  }
  lines.push('', `${report.same} the same, ${report.differ} different, ${report.unanswerable} unanswerable.`);
  return lines.join('\n');
}
