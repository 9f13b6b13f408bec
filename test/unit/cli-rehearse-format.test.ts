import { describe, expect, it } from 'vitest';
import { formatRehearsal, notRehearsedLine } from '../../cli/rehearse/format.js';
import type { Difference, RehearsalReport } from '../../cli/rehearse/rehearse.js';

const DEBUG = 'emit quantum:stream:harvest.heat.decision debug_json';

const difference = (id: string): Difference => ({
  gate: 'heat-gate',
  kind: 'calibrated_action=PARTIAL_25',
  entry: `1-${id}`,
  id,
  symbol: 'ETHUSDT',
  class: 'verdict',
  changes: [
    { field: 'emit quantum:stream:harvest.calibrated heat_bucket', before: 'COLD', after: 'WARM', class: 'verdict' },
    { field: DEBUG, before: '{"thresholds":{"warm":0.25}}', after: '{"thresholds":{"warm":0.05}}', class: 'other' },
  ],
});

const echoOnly = (id: string): Difference => ({ ...difference(id), class: 'other', changes: [difference(id).changes[1]!] });

/** Seven heat-gate decisions changed their verdict (the first five kept as examples), three only their echoed thresholds. */
const report: RehearsalReport = {
  release: 'a release',
  at: 0,
  since: undefined,
  decisions: 12,
  same: 2,
  differ: 10,
  verdicts: 7,
  others: 3,
  unanswerable: 0,
  kinds: [{ gate: 'heat-gate', kind: 'calibrated_action=PARTIAL_25', same: 2, differ: 10, verdict: 7, other: 3, unanswerable: 0 }],
  differences: [...['a', 'b', 'c', 'd', 'e'].map(difference), ...['x', 'y', 'z'].map(echoOnly)],
  otherFields: [
    {
      gate: 'heat-gate',
      field: DEBUG,
      decisions: 3,
      example: { ...difference('x').changes[1]!, id: 'x' },
    },
  ],
  unanswerableReads: [],
  gatesNotInRelease: [],
  tape: { redis: 'redis://127.0.0.1:6390/0', from: 0, to: 60_000 },
  otherVersions: [],
  undecodable: [],
  settingChanges: [],
  withoutSettings: [],
  notRehearsed: { total: 0, otherVersion: 0, undecodable: 0, unanswerable: 0, gateNotInRelease: 0 },
};

describe('formatRehearsal', () => {
  it("says how many of a gate's verdict changes its examples leave out, so five shown of seven is not read as all", () => {
    const text = formatRehearsal(report);
    expect(text).toContain('Verdicts that would change (');
    expect(text).toContain('  heat-gate: 2 more verdicts change (7 in all)');
  });

  it('says nothing more when every verdict change is shown', () => {
    const text = formatRehearsal({ ...report, verdicts: 5, kinds: [{ ...report.kinds[0]!, verdict: 5 }] });
    expect(text).not.toContain('more verdicts change');
  });

  it('lists verdict changes first, their other fields as a count, then the other differences summed by field', () => {
    const text = formatRehearsal(report);
    const verdicts = text.indexOf('Verdicts that would change');
    const others = text.indexOf('Decisions that differ only in other fields');
    expect(verdicts).toBeGreaterThan(0);
    expect(others).toBeGreaterThan(verdicts);
    expect(text.slice(verdicts, others)).toContain(
      '    emit quantum:stream:harvest.calibrated heat_bucket: COLD → WARM\n    and 1 other field',
    );
    expect(text.slice(verdicts, others)).not.toContain('debug_json');
    expect(text.slice(others)).toContain(`  heat-gate: 3 decisions, in\n    ${DEBUG} (3), e.g. x:`);
    expect(text).toMatch(/heat-gate\s+calibrated_action=PARTIAL_25\s+2\s+7\s+3\s+0/);
    expect(text).toContain('2 the same, 10 different (7 in their verdict, 3 only in other fields), 0 unanswerable.');
  });

  it('ends with how many taped decisions were not rehearsed, and why: none, or each reason counted', () => {
    expect(formatRehearsal(report).split('\n').at(-1)).toBe('Not rehearsed: 0 taped decisions.');
    expect(notRehearsedLine({ total: 9, otherVersion: 6, undecodable: 2, unanswerable: 1, gateNotInRelease: 0 })).toBe(
      'Not rehearsed: 9 taped decisions (6 of a tape version the release does not read; 2 tape entries that do not decode (cut or another format: each counted once); 1 whose reads the tape never held (unanswerable)): no pass.',
    );
  });
});
