import { describe, expect, it } from 'vitest';
import { killSwitchBlocks, killSwitchState } from '../../domain/kill-switch.js';
import { guardHolds } from '../../runtime/engine/commit.js';
import { EffectRecorder } from '../../runtime/engine/effects.js';
import { KILL_SWITCH_OFF_VALUES } from '../../domain/kill-switch.js';

describe('the kill switch has one definition', () => {
  it.each([
    [null, 'off'],
    ['', 'off'],
    ['0', 'off'],
    ['false', 'off'],
    [' FALSE ', 'off'],
    ['1', 'on'],
    ['true', 'on'],
    [' True ', 'on'],
    ['yes', 'unrecognised'],
    ['on', 'unrecognised'],
    ['2', 'unrecognised'],
    ['1.0', 'unrecognised'],
    ['enabled', 'unrecognised'],
  ] as const)('%j is %s', (raw, state) => {
    expect(killSwitchState(raw)).toBe(state);
    expect(killSwitchBlocks(raw)).toBe(state !== 'off');
  });

  it('the commit guard agrees with it for every value', () => {
    const recorder = new EffectRecorder();
    recorder.requireOff('quantum:kill', KILL_SWITCH_OFF_VALUES);
    const guard = recorder.guards[0]!;
    for (const raw of [null, '', '0', 'false', ' FALSE ', '1', 'true', 'yes', 'ON', '2', '1.0', 'enabled']) {
      expect(guardHolds(guard, raw !== null, raw)).toBe(!killSwitchBlocks(raw));
    }
  });
});
