import { describe, expect, it } from 'vitest';
import { EffectRecorder } from '../../runtime/engine/effects.js';

// requireUnchanged is the read-then-guard of the governor's versions, its exit lock, the heat
// bridge's latest pointer and the outcomes' pending version: it must record exactly the guard
// the hand-written "null → requireAbsent, else requireValue" recorded, so the commit is unchanged.
describe('EffectRecorder.requireUnchanged', () => {
  it('guards a key read absent as still absent', () => {
    const recorder = new EffectRecorder();
    recorder.requireUnchanged('quantum:v', null);
    expect(recorder.guards).toEqual([{ kind: 'absent', key: 'quantum:v' }]);
  });

  it('guards a key read with a value as still holding it, the empty string included', () => {
    const recorder = new EffectRecorder();
    recorder.requireUnchanged('quantum:v', '7');
    recorder.requireUnchanged('quantum:w', '');
    expect(recorder.guards).toEqual([
      { kind: 'equals', key: 'quantum:v', value: '7' },
      { kind: 'equals', key: 'quantum:w', value: '' },
    ]);
  });

  it('records the same guards as requireAbsent and requireValue, in the order given', () => {
    const byHand = new EffectRecorder();
    byHand.requireAbsent('a');
    byHand.requireValue('b', '2');
    const unchanged = new EffectRecorder();
    unchanged.requireUnchanged('a', null);
    unchanged.requireUnchanged('b', '2');
    expect(unchanged.guards).toEqual(byHand.guards);
    expect(unchanged.effects).toEqual([]);
  });
});
