import { describe, expect, it } from 'vitest';
import { formatRehearsal } from '../../cli/rehearse/format.js';
import type { Difference, RehearsalReport } from '../../cli/rehearse/rehearse.js';

const difference = (id: string): Difference => ({
  gate: 'heat-gate',
  kind: 'calibrated_action=PARTIAL_25',
  entry: `1-${id}`,
  id,
  symbol: 'ETHUSDT',
  changes: [{ field: 'emit quantum:stream:harvest.calibrated heat_bucket', before: 'COLD', after: 'WARM' }],
});

/** Seven heat-gate decisions differ; the rehearsal keeps the first five as examples. */
const report: RehearsalReport = {
  release: 'a release',
  at: 0,
  since: undefined,
  decisions: 9,
  same: 2,
  differ: 7,
  unanswerable: 0,
  kinds: [{ gate: 'heat-gate', kind: 'calibrated_action=PARTIAL_25', same: 2, differ: 7, unanswerable: 0 }],
  differences: ['a', 'b', 'c', 'd', 'e'].map(difference),
  unanswerableReads: [],
  gatesNotInRelease: [],
  tape: { redis: 'redis://127.0.0.1:6390/0', from: 0, to: 60_000 },
  otherVersions: [],
  undecodable: [],
};

describe('formatRehearsal', () => {
  it("says how many of a gate's differences its examples leave out, so five shown of seven is not read as all", () => {
    const text = formatRehearsal(report);
    expect(text).toContain('Decisions that would change (the first ones of each gate):');
    expect(text).toContain('  heat-gate: 2 more differ (7 in all)');
  });

  it('says nothing more when every difference is shown', () => {
    const text = formatRehearsal({ ...report, differ: 5, kinds: [{ ...report.kinds[0]!, differ: 5 }] });
    expect(text).not.toContain('more differ');
  });
});
