import { describe, expect, it } from 'vitest';
import { EffectRecorder } from '../../runtime/engine/effects.js';

// `holding` a value read is the read-then-guard of the governor's versions, its exit lock, the heat
// bridge's latest pointer and the outcomes' pending version: it must record exactly the guard
// "null → absent, else equals" records, so the commit is unchanged.
describe("EffectRecorder.require(key, { is: 'holding' })", () => {
  it('guards a key read absent as still absent', () => {
    const recorder = new EffectRecorder();
    recorder.require('quantum:v', { is: 'holding', value: null });
    expect(recorder.guards).toEqual([{ kind: 'absent', key: 'quantum:v' }]);
  });

  it('guards a key read with a value as still holding it, the empty string included', () => {
    const recorder = new EffectRecorder();
    recorder.require('quantum:v', { is: 'holding', value: '7' });
    recorder.require('quantum:w', { is: 'holding', value: '' });
    expect(recorder.guards).toEqual([
      { kind: 'equals', key: 'quantum:v', value: '7' },
      { kind: 'equals', key: 'quantum:w', value: '' },
    ]);
  });

  it('records the same guards as `absent` and a value, in the order given', () => {
    const byHand = new EffectRecorder();
    byHand.require('a', { is: 'absent' });
    byHand.require('b', { is: 'holding', value: '2' });
    const unchanged = new EffectRecorder();
    unchanged.require('a', { is: 'holding', value: null });
    unchanged.require('b', { is: 'holding', value: '2' });
    expect(unchanged.guards).toEqual(byHand.guards);
    expect(unchanged.effects).toEqual([]);
  });
});
