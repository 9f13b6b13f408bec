import { describe, expect, it } from 'vitest';
import { ReadPacing } from '../../runtime/sources/read-pacing.js';

describe('ReadPacing (issue #24 item 5: latency far from capacity)', () => {
  it('reads ahead until it knows how long a batch takes to handle', () => {
    expect(new ReadPacing(500).readAfterCommit(1, 1_000)).toBe(false);
  });

  it('reads after the commit only when it waited for a batch more than twice as long as one takes to handle', () => {
    const pacing = new ReadPacing(500);
    pacing.handled(0.3);
    expect(pacing.readAfterCommit(1, 0.9)).toBe(true); // 1,000 msg/s: ~0.7 ms idle a message
    expect(pacing.readAfterCommit(3, 0.61)).toBe(true);
    expect(pacing.readAfterCommit(1, 0.6)).toBe(false); // near capacity: the next entry may come while this one is handled
    expect(pacing.readAfterCommit(1, 0)).toBe(false); // the read ahead had already brought it
  });

  it('always reads ahead after a full batch: a backlog is waiting', () => {
    const pacing = new ReadPacing(500);
    pacing.handled(0.3);
    expect(pacing.readAfterCommit(500, 100)).toBe(false);
  });

  it('follows the handling time as it changes, smoothed', () => {
    const pacing = new ReadPacing(500);
    pacing.handled(1);
    for (let i = 0; i < 50; i++) pacing.handled(10);
    expect(pacing.readAfterCommit(1, 19)).toBe(false);
    expect(pacing.readAfterCommit(1, 21)).toBe(true);
    pacing.handled(100); // one slow batch moves it by a fifth of the difference
    expect(pacing.readAfterCommit(1, 2 * 28 + 1)).toBe(true);
    expect(pacing.readAfterCommit(1, 2 * 28 - 1)).toBe(false);
  });
});
