import { describe, expect, it } from 'vitest';
import { TAPE_VERSION, type TapeRecord } from '../../app/tape/format.js';
import { BatchStates } from '../../cli/rehearse/rehearse.js';

const state = { calls: [['keysToRead', ['p33-positions'], []]], clock: [1] } as unknown as NonNullable<TapeRecord['state']>;
const record = (id: string, batch: string | undefined, withState = false): TapeRecord => ({
  v: TAPE_VERSION,
  gate: 'heat-gate',
  id,
  producedAt: 1,
  raw: {},
  outcome: 'handled',
  ...(batch === undefined ? {} : { batch }),
  ...(withState ? { state } : {}),
  reads: { calls: [], clock: [] },
  effects: [],
  jobs: [],
});

describe("the rehearsal's batch states: a batch's records apart on the tape share its state", () => {
  it('gives a later group of a batch the state an earlier group carried', () => {
    const states = new BatchStates();
    expect(states.given([record('1-0', 'b1', true)])[0]!.state).toBe(state);
    expect(states.given([record('2-0', 'b2')])[0]!.state).toBeUndefined();
    const later = states.given([record('3-0', 'b1'), record('4-0', 'b1')]);
    expect(later.map((r) => r.state)).toEqual([state, undefined]);
  });

  it('leaves records of no batch as they are', () => {
    const states = new BatchStates();
    const alone = [record('1-0', undefined)];
    expect(states.given(alone)).toBe(alone);
  });
});
