import { describe, expect, it } from 'vitest';
import type { TapeRecord } from '../../app/tape/format.js';
import { changesOf, classOf } from '../../cli/rehearse/compare.js';
import { jobDoneKey } from '../../runtime/engine/idempotency.js';

/** A taped decision with these effects; the rehearsal's answer is compared with it. */
const taped = (effects: readonly unknown[]): TapeRecord => ({
  v: 2,
  gate: 'position-index',
  id: 'job-1',
  producedAt: 1_000,
  raw: {},
  outcome: 'handled',
  reads: { calls: [], clock: [] },
  effects,
  jobs: [],
});

const doneKey = jobDoneKey('position-index', 'job-1');

describe("the rehearsal's comparison", () => {
  it("compares the runtime's job-done effect: a JOB_DONE_TTL_SEC of 3,600 where 86,400 ran is a difference (an other field)", () => {
    const record = taped([{ op: 'put', key: doneKey, value: '1000', ttlSec: 86_400 }]);
    const changes = changesOf(record, {
      outcome: 'handled',
      effects: [{ op: 'put', key: doneKey, value: '1000', ttlSec: 3_600 }],
      jobs: [],
    });
    expect(changes).toEqual([{ field: `put ${doneKey} ttlSec`, before: '86400', after: '3600', class: 'other' }]);
    // A job no longer marked done would run again: a write no longer made is a verdict.
    expect(classOf(changesOf(record, { outcome: 'handled', effects: [], jobs: [] }))).toBe('verdict');
  });

  it('original_action, which the pipeline reads, is a verdict field: a release that swaps it changes the verdict', () => {
    const stream = 'quantum:stream:harvest.calibrated';
    const record = taped([{ op: 'emit', stream, fields: { calibrated_action: 'PARTIAL_25', original_action: 'FULL_CLOSE' } }]);
    const changes = changesOf(record, {
      outcome: 'handled',
      effects: [{ op: 'emit', stream, fields: { calibrated_action: 'PARTIAL_25', original_action: 'PARTIAL_25' } }],
      jobs: [],
    });
    expect(changes).toEqual([{ field: `emit ${stream} original_action`, before: 'FULL_CLOSE', after: 'PARTIAL_25', class: 'verdict' }]);
  });
});
