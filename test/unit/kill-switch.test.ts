import { describe, expect, it } from 'vitest';
import { killSwitchBlocks, killSwitchState } from '../../domain/kill-switch.js';
import { guardHolds } from '../../runtime/engine/commit.js';
import { EffectRecorder, type Guard } from '../../runtime/engine/effects.js';
import { KILL_SWITCH_OFF_VALUES, unreadableSwitch } from '../../domain/kill-switch.js';
import { readKillSwitch } from '../../handlers/governor/status.js';

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
    recorder.require('quantum:kill', { is: 'off', offValues: KILL_SWITCH_OFF_VALUES });
    const guard = recorder.guards[0] as Extract<Guard, { kind: 'off' }>;
    for (const raw of [null, '', '0', 'false', ' FALSE ', '1', 'true', 'yes', 'ON', '2', '1.0', 'enabled']) {
      expect(guardHolds(guard, raw !== null, raw)).toBe(!killSwitchBlocks(raw));
    }
  });
});

describe('a kill switch Redis refuses to read', () => {
  const refusing = (message: string) => ({ get: () => Promise.reject(new Error(message)) });

  it('reads as engaged with the reason, as the governor blocks on it (snapshot.ts)', async () => {
    const wrongType = 'WRONGTYPE Operation against a key holding the wrong kind of value';
    expect(await readKillSwitch(refusing(wrongType))).toEqual({ active: true, value: null, unreadable: `unreadable: ${wrongType}` });
    expect(await readKillSwitch(refusing("NOPERM User ops has no permissions to access the 'quantum:kill' key"))).toMatchObject({
      active: true,
      unreadable: expect.stringMatching(/^unreadable: NOPERM /),
    });
  });

  it('still fails on a lost connection, which says nothing about the key', async () => {
    await expect(readKillSwitch(refusing('Connection is closed.'))).rejects.toThrow('Connection is closed.');
    expect(unreadableSwitch(new Error('Command timed out'))).toBeUndefined();
  });

  it('reads a readable value by the one definition', async () => {
    expect(await readKillSwitch({ get: () => Promise.resolve('maybe') })).toEqual({ active: true, value: 'maybe' });
    expect(await readKillSwitch({ get: () => Promise.resolve(null) })).toEqual({ active: false, value: null });
  });
});
