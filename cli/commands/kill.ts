import { keys } from '../../schemas/keys.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode } from '../errors.js';
import { printJson } from '../output.js';
import { withRedis } from '../redis.js';

const describe = (value: string | null) => (value === '1' ? 'ON' : value === null ? 'OFF (unset)' : `OFF (${value})`);

function switchCommand(state: 'on' | 'off'): Command {
  const name = `kill ${state}`;
  const value = state === 'on' ? '1' : '0';
  const help = [
    `Usage: quantum-gates kill ${state} [--json]`,
    '',
    state === 'on'
      ? `Sets ${keys.killSwitch}=1: the governor blocks every plan (opens and closes) with kill_switch_active.`
      : `Sets ${keys.killSwitch}=0: the governor evaluates plans again.`,
    'Prints the previous state. --json prints {key, value, previous}.',
  ].join('\n');
  return {
    name,
    summary: state === 'on' ? 'engage the kill switch (block every plan)' : 'release the kill switch',
    help,
    async run(argv, io) {
      const args = parseCommandArgs(name, argv, { json: { type: 'boolean' } });
      // SET ... GET swaps atomically, so the printed previous state is exactly what was replaced.
      const previous = await withRedis(io, (redis) => redis.call('SET', keys.killSwitch, value, 'GET') as Promise<string | null>);
      if (args.values.json) printJson(io, { key: keys.killSwitch, value, previous });
      else io.out(`kill switch ${describe(value)} (was ${describe(previous)})`);
      return ExitCode.ok;
    },
  };
}

const statusHelp = ['Usage: quantum-gates kill status [--json]', '', `Shows ${keys.killSwitch}. --json prints {key, value, engaged}.`].join('\n');

export const killCommands: readonly Command[] = [
  switchCommand('on'),
  switchCommand('off'),
  {
    name: 'kill status',
    summary: 'show the kill switch',
    help: statusHelp,
    async run(argv, io) {
      const args = parseCommandArgs('kill status', argv, { json: { type: 'boolean' } });
      const value = await withRedis(io, (redis) => redis.get(keys.killSwitch));
      if (args.values.json) printJson(io, { key: keys.killSwitch, value, engaged: value === '1' });
      else io.out(`kill switch ${describe(value)}`);
      return ExitCode.ok;
    },
  },
];
