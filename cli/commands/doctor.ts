import { allHandlers } from '../../handlers/index.js';
import { describeRedis, selectHandlers } from '../../runtime/host/index.js';
import { checkCommands, commandsFor, describeMissing } from '../../app/cli-door.js';
import { ConfigError } from '../../schemas/env.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode, UsageError } from '../errors.js';
import { printJson } from '../output.js';
import { withRedis } from '../redis.js';

const help = [
  'Usage: quantum-gates doctor [--gates NAMES] [--json]',
  '',
  "Checks that the Redis this command is told to use lets the gates' account run every command the",
  'gates need (docs/operations.md, "What the gates\' account needs"; the list the start checks),',
  'on every master of a cluster: for a running Redis whose ACL changed, or one renamed a command',
  'away, since the gates started. Prints one line per command missing, naming the ACL rule to add.',
  '',
  'Options:',
  '  --gates NAMES  the gates to check for, as HANDLERS names them (default: $HANDLERS, else every gate)',
  '  --json         print {redis, gates, checked, missing: [{command, problem, node?, line}], unchecked?}',
  '',
  'Exit codes: 0 every command allowed, 1 a command missing (or Redis cannot be reached), 2 a bad option.',
].join('\n');

export const doctorCommand: Command = {
  name: 'doctor',
  summary: "check that Redis lets the gates' account run every command they need",
  help,
  async run(argv, io) {
    const args = parseCommandArgs('doctor', argv, { gates: { type: 'string' }, json: { type: 'boolean' } });
    let gates: string[];
    try {
      gates = selectHandlers(allHandlers, args.values.gates ?? io.env.HANDLERS).map((handler) => handler.name);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message.replace(/^HANDLERS/, '--gates'), 'doctor');
      throw error;
    }
    const needs = commandsFor(gates);
    const { check, where } = await withRedis(io, async (redis, config) => ({
      check: await checkCommands(redis, needs),
      where: describeRedis(config),
    }));
    const lines = check.missing.map((missing) => describeMissing(where, missing));
    if (args.values.json)
      printJson(io, {
        redis: where,
        gates,
        checked: needs.length,
        missing: check.missing.map((m, i) => ({
          command: m.need.command,
          problem: m.problem,
          ...(m.node ? { node: m.node } : {}),
          line: lines[i],
        })),
        ...(check.unchecked ? { unchecked: check.unchecked } : {}),
      });
    else {
      for (const line of lines) io.out(line);
      if (lines.length === 0) io.out(`Redis at ${where}: the gates' account may run all ${needs.length} commands ${gates.join(', ')} need`);
      if (check.unchecked) io.out(`not checked: the ACL (${check.unchecked}); only commands renamed away were looked for`);
    }
    return lines.length === 0 ? ExitCode.ok : ExitCode.failure;
  },
};
