import { killSwitchState } from '../../domain/kill-switch.js';
import { killSwitchSection } from '../../handlers/governor/status.js';
import { keys } from '../../schemas/keys.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode } from '../errors.js';
import { printJson } from '../output.js';
import { recordOperatorAction } from '../audit.js';
import { withRedis } from '../redis.js';
import { readSection } from '../section-read.js';
import { withRedisWrite } from '../write-target.js';
import { requireReason } from '../reason.js';

/** As the governor reads it (domain/kill-switch.ts): anything but absent, "0", "false" or "" blocks. */
function describe(value: string | null): string {
  switch (killSwitchState(value)) {
    case 'off':
      return value === null ? 'OFF (unset)' : `OFF (${value})`;
    case 'on':
      return 'ON';
    case 'unrecognised':
      return `ON (unrecognised value "${value}": the governor fails closed and blocks every plan)`;
  }
}

function switchCommand(state: 'on' | 'off'): Command {
  const name = `kill ${state}`;
  const value = state === 'on' ? '1' : '0';
  const help = [
    `Usage: quantum-gates kill ${state} --reason TEXT [--json]`,
    '',
    state === 'on'
      ? `Sets ${keys.killSwitch}=1: the governor blocks every plan (opens and closes) with kill_switch_active.\n` +
        'Takes effect at commit, not at read: every permit commits only if the switch is off at that\n' +
        'moment (a guard in its own transaction), so once this command returns no permit is committed\n' +
        'until the switch is off again, whatever the governor was deciding when it was set.'
      : `Sets ${keys.killSwitch}=0: the governor evaluates plans again.`,
    'Prints the previous state and the Redis written. --reason is required: it is recorded with',
    'who ran the command, on which host and when, as an operator_action event on',
    'quantum:stream:governor.events and on stderr. --json prints {key, value, previous, target}.',
  ].join('\n');
  return {
    name,
    summary: state === 'on' ? 'engage the kill switch (block every plan)' : 'release the kill switch',
    help,
    async run(argv, io) {
      const args = parseCommandArgs(name, argv, { json: { type: 'boolean' }, reason: { type: 'string' } });
      const reason = requireReason(name, args.values.reason);
      const { previous, target } = await withRedisWrite(io, async (redis, _config, target) => {
        // SET ... GET swaps atomically, so the printed previous state is exactly what was replaced.
        const previous = (await redis.call('SET', keys.killSwitch, value, 'GET')) as string | null;
        await recordOperatorAction(redis, io, { action: `kill_${state}`, reason, target, previous: previous ?? '' });
        return { previous, target };
      });
      if (args.values.json) printJson(io, { key: keys.killSwitch, value, previous, target });
      else io.out(`kill switch ${describe(value)} (was ${describe(previous)})`);
      return ExitCode.ok;
    },
  };
}

const statusHelp = ['Usage: quantum-gates kill status [--json]', '', `Shows ${keys.killSwitch}. --json prints {key, value, engaged}.`].join(
  '\n',
);

export const killCommands: readonly Command[] = [
  switchCommand('on'),
  switchCommand('off'),
  {
    name: 'kill status',
    summary: 'show the kill switch',
    help: statusHelp,
    async run(argv, io) {
      const args = parseCommandArgs('kill status', argv, { json: { type: 'boolean' } });
      // The governor's section, as the status page reads it: the same value, the same rule for "engaged".
      const { value, active } = await withRedis(io, (redis) => readSection(redis, killSwitchSection, io));
      if (args.values.json) printJson(io, { key: keys.killSwitch, value, engaged: active });
      else io.out(`kill switch ${describe(value)}`);
      return ExitCode.ok;
    },
  },
];
