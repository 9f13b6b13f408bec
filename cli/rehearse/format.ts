import { isoTime, table, truncate } from '../output.js';
import { READ_TAPE_VERSIONS } from '../../app/cli-door.js';
import type { NotRehearsed, RehearsalReport } from './rehearse.js';

/** What every rehearsal says of itself: it changes the code, never the history. */
export const REHEARSAL_MEANING =
  'same inputs, new code: each decision is re-decided on what its gate read when it ran (its own earlier decisions included), not on a history the new code would have made';

/** What a verdict is, as the report says it. */
export const VERDICT_MEANING = 'permit or block, reason, action, heat bucket, outcome, a write made or not';
/** What the other fields are. */
export const OTHER_MEANING = 'settings the record echoes, figures, times, TTLs, scheduled jobs';

const shown = (value: string | undefined) => (value === undefined ? '(none)' : truncate(value, 60));

/**
 * The rehearsal for a terminal: counts per gate and kind, then the decisions whose verdict would
 * change (the first ones of each gate), then those that differ only in other fields, summed by
 * field, then the reads the tape cannot answer.
 */
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
        ['GATE', 'DECISION', 'SAME', 'VERDICT CHANGED', 'OTHER FIELDS ONLY', 'UNANSWERABLE'],
        report.kinds.map((k) => [k.gate, k.kind, k.same, k.verdict, k.other, k.unanswerable]),
      ),
    );
  const gates = [...new Set(report.kinds.map((k) => k.gate))];
  const counted = (gate: string, part: 'verdict' | 'other') =>
    report.kinds.filter((k) => k.gate === gate).reduce((sum, k) => sum + k[part], 0);
  if (report.verdicts > 0) {
    lines.push('', `Verdicts that would change (${VERDICT_MEANING}), the first ones of each gate:`);
    for (const gate of gates) {
      const listed = report.differences.filter((d) => d.gate === gate && d.class === 'verdict');
      if (listed.length === 0) continue;
      for (const d of listed) {
        lines.push(`  ${d.gate} ${d.id}${d.symbol ? ` ${d.symbol}` : ''} (${d.kind}, entry ${d.entry})`);
        for (const c of d.changes.filter((c) => c.class === 'verdict'))
          lines.push(`    ${c.field}: ${shown(c.before)} → ${shown(c.after)}`);
        const other = d.changes.filter((c) => c.class === 'other');
        if (other.length > 0) lines.push(`    and ${other.length} other field${other.length === 1 ? '' : 's'} (--json lists them)`);
      }
      // The examples stop at a few per gate: say what they leave out, or five shown read as all seven.
      const all = counted(gate, 'verdict');
      if (all > listed.length) lines.push(`  ${gate}: ${all - listed.length} more verdicts change (${all} in all)`);
    }
  }
  if (report.others > 0) {
    lines.push('', `Decisions that differ only in other fields (${OTHER_MEANING}), not in their verdict:`);
    for (const gate of gates) {
      const all = counted(gate, 'other');
      if (all === 0) continue;
      lines.push(`  ${gate}: ${all} decision${all === 1 ? '' : 's'}, in`);
      for (const f of report.otherFields.filter((o) => o.gate === gate))
        lines.push(`    ${f.field} (${f.decisions}), e.g. ${f.example.id}: ${shown(f.example.before)} → ${shown(f.example.after)}`);
    }
  }
  if (report.settingChanges.length > 0) {
    // One line per setting and values, naming every gate it is (the governor's family shares its settings).
    const grouped = new Map<string, { setting: string; running: string | undefined; release: string | undefined; gates: string[] }>();
    for (const c of report.settingChanges) {
      const key = JSON.stringify([c.setting, c.running, c.release]);
      const seen = grouped.get(key) ?? { setting: c.setting, running: c.running, release: c.release, gates: [] };
      seen.gates.push(c.gate);
      grouped.set(key, seen);
    }
    lines.push('', 'Settings the release parses otherwise than the running gates did (their taped settings):');
    lines.push(
      table(
        ['SETTING', 'RUNNING', 'RELEASE', 'GATES'],
        [...grouped.values()].map((g) => [g.setting, shown(g.running), shown(g.release), g.gates.join(', ')]),
      ),
    );
  }
  for (const w of report.withoutSettings)
    lines.push('', `${w.gate}: ${w.decisions} decisions taped without their settings, rehearsed with this command's environment`);
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
      `${o.gate}: ${o.decisions} records of tape version ${o.version} (this CLI reads ${[...READ_TAPE_VERSIONS].join(', ').replace(/, (?=[^,]*$)/, ' and ')}) not rehearsed, e.g. ${o.example}`,
    );
  if (report.undecodable.length > 0) {
    lines.push('', `Tape entries that do not decode, skipped (${report.undecodable.length}):`);
    for (const u of report.undecodable.slice(0, 10)) lines.push(`  ${u.gate} entry ${u.entry}: ${truncate(u.error, 80)}`);
  }
  const split = report.differ === 0 ? '' : ` (${report.verdicts} in their verdict, ${report.others} only in other fields)`;
  lines.push('', `${report.same} the same, ${report.differ} different${split}, ${report.unanswerable} unanswerable.`);
  lines.push(notRehearsedLine(report.notRehearsed));
  return lines.join('\n');
}

/**
 * The report's last line: how many taped decisions of the hosted gates were not rehearsed, and why.
 * Any of them is no pass: a rehearsal passes only what it rehearsed.
 */
export function notRehearsedLine(n: NotRehearsed): string {
  if (n.total === 0) return 'Not rehearsed: 0 taped decisions.';
  const why = [
    [n.otherVersion, 'of a tape version the release does not read'],
    [n.undecodable, 'tape entries that do not decode (cut or another format: each counted once)'],
    [n.unanswerable, 'whose reads the tape never held (unanswerable)'],
    [n.gateNotInRelease, 'of gates the release does not have'],
  ] as const;
  return `Not rehearsed: ${n.total} taped decisions (${why
    .filter(([count]) => count > 0)
    .map(([count, what]) => `${count} ${what}`)
    .join('; ')}): no pass.`;
}
