import { describe, expect, it } from 'vitest';
import { inStreamOrder } from '../../runtime/engine/commit.js';
import type { CommitItem } from '../../runtime/engine/delivery.js';
import { EffectRecorder } from '../../runtime/engine/effects.js';

/** One heat-bridge decision as the handler records it on a fresh read (nothing seen before). */
function bridged(planId: string, symbol: string): CommitItem {
  const recorder = new EffectRecorder();
  recorder.require(`dedupe:${planId}`, { is: 'absent' });
  recorder.put(`dedupe:${planId}`, '1');
  recorder.put(`by_plan:${planId}`, { symbol });
  recorder.require(`latest_plan_id:${symbol}`, { is: 'absent' });
  recorder.put(`latest:${symbol}`, { last_plan_id: planId });
  recorder.put(`latest_plan_id:${symbol}`, planId);
  recorder.emit('audit', { planId });
  return { entryId: `${planId}-${symbol}`, recorder };
}

/** Positions in `items` of the items in `some`, so expectations read as batch positions. */
const at = (items: readonly CommitItem[], some: readonly CommitItem[]) => some.map((item) => items.indexOf(item));

describe('commit order within a batch', () => {
  it('defers a later duplicate plan_id behind its deferred first occurrence (the issue’s case)', () => {
    const items = [bridged('other1', 'BTCUSDT'), bridged('P', 'BTCUSDT'), bridged('P', 'ETHUSDT')];
    // Item 1 guards latest_plan_id:BTCUSDT, which item 0 writes: deferred. Item 2 guards
    // dedupe:P, which deferred item 1 guards and writes: it must wait too, or DUP beats FIRST.
    const { accepted, deferred } = inStreamOrder(items);
    expect(at(items, accepted)).toEqual([0]);
    expect(at(items, deferred)).toEqual([1, 2]);
  });

  it('keeps independent items flowing and blocks transitively', () => {
    const items = [
      bridged('a', 'BTCUSDT'),
      bridged('b', 'BTCUSDT'),
      bridged('c', 'SOLUSDT'),
      bridged('b', 'XRPUSDT'),
      bridged('d', 'XRPUSDT'),
    ];
    const { accepted, deferred } = inStreamOrder(items);
    // 1 waits for 0; 3 shares dedupe:b with 1; 4 shares latest_plan_id:XRPUSDT with 3; 2 touches nothing of theirs.
    expect(at(items, accepted)).toEqual([0, 2]);
    expect(at(items, deferred)).toEqual([1, 3, 4]);
  });

  it('holds back later items touching the keys of an item whose guard failed at commit', () => {
    const items = [bridged('P', 'BTCUSDT'), bridged('P', 'ETHUSDT'), bridged('q', 'ETHUSDT')];
    const { accepted, deferred } = inStreamOrder(items, new Set([items[0]!]));
    expect(at(items, accepted)).toEqual([]);
    expect(at(items, deferred)).toEqual([0, 1, 2]);
  });

  it('does not order items that only append to the same stream', () => {
    const items = [bridged('a', 'BTCUSDT'), bridged('a', 'ETHUSDT'), bridged('z', 'SOLUSDT')];
    // 1 is deferred (dedupe:a); 2 emits to the same audit stream but touches no key of 1's.
    expect(at(items, inStreamOrder(items).accepted)).toEqual([0, 2]);
  });
});
