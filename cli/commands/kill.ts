import { killSwitchState, unreadableSwitch } from '../../domain/kill-switch.js';
import { killSwitchSection } from '../../handlers/governor/status.js';
import { keys } from '../../schemas/keys.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode } from '../errors.js';
import { printJson } from '../output.js';
import type { RedisClient } from '../../runtime/host/index.js';
import { auditFailureMessage, recordOperatorAction } from '../audit.js';
import { withRedis } from '../redis.js';
import { readSection } from '../section-read.js';
import { withRedisWrite } from '../write-target.js';
import { requireReason } from '../reason.js';

/** As the governor reads it (domain/kill-switch.ts): anything but absent, "0", "false" or "" blocks, and so does a key it cannot read. */
function describe(value: string | null, unreadable?: string): string {
  if (unreadable !== undefined) return `ON (${unreadable}: the governor fails closed and blocks every plan)`;
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
    `who ran the command, on which host and when, as a kill_${state} event on`,
    'quantum:stream:governor.events and on stderr. --json prints {key, value, previous, target}.',
  ].join('\n');
  return {
    name,
    summary: state === 'on' ? 'engage the kill switch (block every plan)' : 'release the kill switch',
    help,
    async run(argv, io) {
      const args = parseCommandArgs(name, argv, { json: { type: 'boolean' }, reason: { type: 'string' } });
      const reason = requireReason(name, args.values.reason);
      const { previous, unreadable, target, auditFailure } = await withRedisWrite(io, async (redis, _config, target) => {
        const { previous, unreadable } = await swapSwitch(redis, value);
        const audit = await recordOperatorAction(redis, io, {
          action: `kill_${state}`,
          reason,
          target,
          previous: unreadable ?? previous ?? '',
          record: { key: keys.killSwitchLastChange, extra: { value } },
        });
        return { previous, unreadable, target, auditFailure: audit.failure };
      });
      // The switch changed whether or not its audit could be written: say so first, then the failure.
      if (args.values.json)
        printJson(io, { key: keys.killSwitch, value, previous, target, ...(unreadable ? { previous_unreadable: unreadable } : {}) });
      else io.out(`kill switch ${describe(value)} (was ${describe(previous, unreadable)})`);
      if (auditFailure === undefined) return ExitCode.ok;
      io.err(`quantum-gates ${name}: ${auditFailureMessage(`the kill switch is now ${describe(value)}`, auditFailure)}`);
      return ExitCode.failure;
    },
  };
}

/**
 * Sets the switch and answers what it replaced. SET ... GET swaps atomically, so the printed
 * previous state is exactly what was replaced; a key of another type (which the governor reads as
 * engaged) is replaced as well, since the operator's value is what the switch must hold.
 */
async function swapSwitch(redis: RedisClient, value: string): Promise<{ previous: string | null; unreadable?: string }> {
  try {
    return { previous: (await redis.call('SET', keys.killSwitch, value, 'GET')) as string | null };
  } catch (error) {
    const unreadable = unreadableSwitch(error);
    if (unreadable === undefined) throw error;
    const replies = (await redis.multi().type(keys.killSwitch).set(keys.killSwitch, value).exec()) ?? [];
    const failed = replies.find(([err]) => err !== null);
    if (failed) throw failed[0] as Error;
    return { previous: null, unreadable: `unreadable: a ${String(replies[0]?.[1])} key` };
  }
}

const statusHelp = [
  'Usage: quantum-gates kill status [--json]',
  '',
  `Shows ${keys.killSwitch} and who last set it with quantum-gates kill on|off, when and why (from`,
  `${keys.killSwitchLastChange}); a value that record does not explain was set some other way.`,
  '--json prints {key, value, engaged, set_by: {actor, host, ts, reason, event} or null}.',
].join('\n');

interface SetBy {
  readonly event: string;
  readonly actor: string;
  readonly host: string;
  readonly ts: string;
  readonly reason: string;
}

/** The last change by quantum-gates, when it still explains the value in Redis. */
function setByOf(value: string | null, change: Record<string, string>): SetBy | null {
  if (change.value === undefined || change.value !== value) return null;
  return {
    event: change.event ?? '',
    actor: change.actor ?? '',
    host: change.host ?? '',
    ts: change.ts ?? '',
    reason: change.reason ?? '',
  };
}

function describeSetBy(setBy: SetBy | null, value: string | null): string {
  if (setBy === null) return value === null ? '' : ' (no record of who set it: not set with quantum-gates kill on|off)';
  const when = Number.isFinite(Number(setBy.ts)) ? new Date(Number(setBy.ts)).toISOString() : setBy.ts;
  return `, set by ${setBy.actor}@${setBy.host} at ${when} (${setBy.event}, reason: ${setBy.reason})`;
}

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
      const { value, active, unreadable, change } = await withRedis(io, async (redis) => ({
        ...(await readSection(redis, killSwitchSection, io)),
        change: await redis.hgetall(keys.killSwitchLastChange).catch(() => ({})),
      }));
      const setBy = unreadable === undefined ? setByOf(value, change) : null;
      if (args.values.json)
        printJson(io, { key: keys.killSwitch, value, engaged: active, set_by: setBy, ...(unreadable ? { unreadable } : {}) });
      else io.out(`kill switch ${describe(value, unreadable)}${unreadable === undefined ? describeSetBy(setBy, value) : ''}`);
      return ExitCode.ok;
    },
  },
];
