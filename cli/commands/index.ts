import type { Command } from '../command.js';
import { disarmCommands } from './disarm.js';
import { doctorCommand } from './doctor.js';
import { dlqCommands } from './dlq.js';
import { injectCommands } from './inject.js';
import { killCommands } from './kill.js';
import { rehearseCommand } from './rehearse.js';
import { shadowCommands } from './shadow.js';
import { reportCommands } from './report.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';
import { positionsCommands } from './positions.js';

export const commands: readonly Command[] = [
  startCommand,
  statusCommand,
  doctorCommand,
  ...injectCommands,
  ...dlqCommands,
  ...reportCommands,
  rehearseCommand,
  ...shadowCommands,
  ...killCommands,
  ...disarmCommands,
  ...positionsCommands,
];

/**
 * Commands that are the two sides of one choice (kill on / off, a dead letter's replay / drop):
 * a did-you-mean names both sides, never one, so a typo is never turned into its opposite.
 */
export const commandSides: readonly (readonly string[])[] = [
  ['on', 'off'],
  ['replay', 'drop'],
];

const groupSummaries: Record<string, string> = {
  inject: 'write a test message to a gate, validated like the gate validates it',
  dlq: 'inspect, replay and drop dead-lettered messages',
  report: 'analyses of what the gates decided',
  kill: 'the kill switch (quantum:kill)',
  disarm: "the governor's auto-disarm (quantum:governor:disarm)",
  positions: "the position book's memory of held positions (quantum:gates:positions:held)",
};

/** Help for a command group ("dlq"), or undefined when no such group exists. */
export function groupHelp(group: string): string | undefined {
  const members = commands.filter((c) => c.name.startsWith(`${group} `));
  if (members.length === 0) return undefined;
  const width = Math.max(...members.map((c) => c.name.length)) + 2;
  return [
    `Usage: quantum-gates ${group} <command> [options]`,
    '',
    `${groupSummaries[group] ?? ''}`,
    '',
    'Commands:',
    ...members.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run "quantum-gates ${group} <command> --help" for its options.`,
  ].join('\n');
}

export function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'Usage: quantum-gates <command> [options]',
    '',
    'Operate the quantum-gates risk gates: run them, see their status, inject test messages,',
    'handle dead letters, report on shadow mode, and work the kill switch.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "Every command takes --help; -v (--version) prints the version and the build's commit. Redis comes from REDIS_URL, or REDIS_HOST / REDIS_PORT / REDIS_DB",
    "(or REDIS_CLUSTER_NODES), as for the gates themselves, or a unit's env file (--env-file PATH, --no-env-file); --private names the",
    "private redis-server of this checkout's npm start.",
    '',
    'Exit codes:',
    '  0  success',
    '  1  operational failure: Redis or the server unreachable, an entry not found, a replay refused',
    '  2  usage error or invalid input: nothing was written',
    '  3  status: DEGRADED (something needs a person, trading goes on)',
    '  4  status: BLOCKING (trading is held up)',
  ].join('\n');
}
