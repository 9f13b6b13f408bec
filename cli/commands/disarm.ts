import { describeDisarm } from '../../handlers/governor/status.js';
import { keys } from '../../schemas/keys.js';
import type { RedisClient } from '../../runtime/host/index.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode } from '../errors.js';
import { printJson } from '../output.js';
import { auditFailureMessage, recordOperatorAction } from '../audit.js';
import { withRedis } from '../redis.js';
import { withRedisWrite } from '../write-target.js';
import { requireReason } from '../reason.js';

/** The disarm record, whatever shape the governor gave it (a string reason or a hash). */
async function readDisarm(redis: RedisClient): Promise<string | Record<string, string> | null> {
  const type = await redis.type(keys.governorDisarm);
  if (type === 'none') return null;
  if (type === 'hash') return redis.hgetall(keys.governorDisarm);
  if (type === 'string') return redis.get(keys.governorDisarm);
  return `(a ${type})`;
}

function render(value: string | Record<string, string> | null, now: number): string {
  if (value === null) return 'not disarmed';
  // The governor's JSON record, its time readable (describeDisarm), as the status shows it.
  if (typeof value === 'string') return describeDisarm(value, now) ?? value;
  return Object.entries(value)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

const clearHelp = [
  'Usage: quantum-gates disarm clear --reason TEXT [--json]',
  '',
  `Deletes ${keys.governorDisarm}, re-arming the governor after its auto-disarm tripped`,
  '(GOV_DISARM_ON_ERROR_COUNT errors in a window): opens are evaluated again.',
  'Prints what the disarm record said and the Redis written. --reason is required: it is',
  'recorded with who ran the command, on which host and when, as an operator_action event on',
  'quantum:stream:governor.events and on stderr. --json prints {key, cleared, previous, target}.',
].join('\n');

const statusHelp = [
  'Usage: quantum-gates disarm status [--json]',
  '',
  `Shows ${keys.governorDisarm}. --json prints {key, disarmed, value}.`,
].join('\n');

export const disarmCommands: readonly Command[] = [
  {
    name: 'disarm clear',
    summary: "clear the governor's auto-disarm",
    help: clearHelp,
    async run(argv, io) {
      const args = parseCommandArgs('disarm clear', argv, { json: { type: 'boolean' }, reason: { type: 'string' } });
      const reason = requireReason('disarm clear', args.values.reason);
      const { previous, target, auditFailure } = await withRedisWrite(io, async (redis, _config, target) => {
        const value = await readDisarm(redis);
        if (value === null) return { previous: value, target, auditFailure: undefined };
        await redis.del(keys.governorDisarm);
        const audit = await recordOperatorAction(redis, io, { action: 'disarm_clear', reason, target, previous: render(value, io.now()) });
        return { previous: value, target, auditFailure: audit.failure };
      });
      // The disarm is cleared whether or not its audit could be written: say so first, then the failure.
      if (args.values.json) printJson(io, { key: keys.governorDisarm, cleared: previous !== null, previous, target });
      else io.out(previous === null ? 'not disarmed: nothing to clear' : `cleared disarm (was: ${render(previous, io.now())})`);
      if (auditFailure === undefined) return ExitCode.ok;
      io.err(`quantum-gates disarm clear: ${auditFailureMessage('the governor is re-armed (disarm cleared)', auditFailure)}`);
      return ExitCode.failure;
    },
  },
  {
    name: 'disarm status',
    summary: "show the governor's auto-disarm",
    help: statusHelp,
    async run(argv, io) {
      const args = parseCommandArgs('disarm status', argv, { json: { type: 'boolean' } });
      const value = await withRedis(io, readDisarm);
      if (args.values.json) printJson(io, { key: keys.governorDisarm, disarmed: value !== null, value });
      else io.out(value === null ? 'not disarmed' : `disarmed: ${render(value, io.now())}`);
      return ExitCode.ok;
    },
  },
];
