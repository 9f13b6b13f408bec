import { keys } from '../../schemas/keys.js';
import { parseHeldKey, type Leg } from '../../handlers/positions/fold.js';
import { clearedFields, P33_REFRESHED_FIELD, P33_UNREADABLE_FIELD } from '../../handlers/positions/memory.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode, UsageError } from '../errors.js';
import { auditFailureMessage, recordOperatorAction } from '../audit.js';
import { printJson } from '../output.js';
import { withRedis } from '../redis.js';
import { withRedisWrite } from '../write-target.js';

const clearHelp = [
  'Usage: quantum-gates positions clear SYMBOL[:SIDE] --by NAME --why TEXT [--json]',
  '',
  `Forgets a held position the book remembers (${keys.positionsHeld}): a position whose every`,
  'figure vanished is of unknown size, and blocks every open (position_price_unknown, naming it),',
  'until a fresh report says flat or this command says it is gone. SIDE is LONG or SHORT; without',
  'it, both legs. Only for a position you have checked is closed on the exchange: a position still',
  'held and cleared here is counted again only once a producer reports it.',
  '--by and --why are required: recorded with the host and time as a positions_clear event on',
  'quantum:stream:governor.events (and stderr). --json prints {key, cleared, previous, target}.',
].join('\n');

const listHelp = [
  'Usage: quantum-gates positions held [--json]',
  '',
  `Lists ${keys.positionsHeld}: every leg the book remembers as held, and the mark on P3.3's listing`,
  `(${P33_UNREADABLE_FIELD}, ${P33_REFRESHED_FIELD}: ms) while P3.3's index, once unreadable, is not listed whole again.`,
].join('\n');

/** SYMBOL or SYMBOL:LONG / SYMBOL:SHORT. */
function parseTarget(command: string, target: string | undefined): { symbol: string; leg: Leg | undefined } {
  const text = target?.trim() ?? '';
  if (text === '') throw new UsageError('name the position: SYMBOL or SYMBOL:LONG / SYMBOL:SHORT', command);
  if (!text.includes(':')) return { symbol: text.toUpperCase(), leg: undefined };
  const held = parseHeldKey(text.toUpperCase());
  if (held === undefined) throw new UsageError(`${text}: the side is LONG or SHORT`, command);
  return held;
}

function required(command: string, name: string, value: string | undefined): string {
  const text = value?.trim() ?? '';
  if (text === '') throw new UsageError(`--${name} is required (it is recorded on the governor's events stream)`, command);
  return text;
}

export const positionsCommands: readonly Command[] = [
  {
    name: 'positions clear',
    summary: 'forget a held position whose figures vanished (unknown size), after checking it is closed',
    help: clearHelp,
    async run(argv, io) {
      const args = parseCommandArgs(
        'positions clear',
        argv,
        { json: { type: 'boolean' }, by: { type: 'string' }, why: { type: 'string' } },
        { positionals: true },
      );
      const { symbol, leg } = parseTarget('positions clear', args.positionals[0]);
      const by = required('positions clear', 'by', args.values.by);
      const why = required('positions clear', 'why', args.values.why);
      const fields = clearedFields(symbol, leg);
      const { previous, target, failure } = await withRedisWrite(io, async (redis, _config, target) => {
        const values = await redis.hmget(keys.positionsHeld, ...fields);
        const held = Object.fromEntries(fields.flatMap((f, i) => (values[i] ? [[f, values[i]!] as const] : [])));
        if (Object.keys(held).length === 0) return { previous: held, target, failure: undefined };
        // Written empty, as the governor forgets a leg (memory.ts): one shape of "no memory".
        await redis.hset(keys.positionsHeld, Object.fromEntries(Object.keys(held).map((f) => [f, ''])));
        const audit = await recordOperatorAction(redis, io, {
          action: 'positions_clear',
          reason: why,
          target,
          previous: JSON.stringify(held),
          actor: by,
        });
        return { previous: held, target, failure: audit.failure };
      });
      const cleared = Object.keys(previous);
      if (args.values.json) printJson(io, { key: keys.positionsHeld, cleared, previous, target });
      else
        io.out(
          cleared.length === 0 ? `${symbol}${leg ? `:${leg}` : ''}: not held in memory, nothing to clear` : `cleared ${cleared.join(', ')}`,
        );
      if (failure === undefined) return ExitCode.ok;
      io.err(`quantum-gates positions clear: ${auditFailureMessage('cleared', failure)}`);
      return ExitCode.failure;
    },
  },
  {
    name: 'positions held',
    summary: 'list the positions the book remembers as held',
    help: listHelp,
    async run(argv, io) {
      const args = parseCommandArgs('positions held', argv, { json: { type: 'boolean' } });
      const all = await withRedis(io, (redis) => redis.hgetall(keys.positionsHeld));
      const held = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== ''));
      if (args.values.json) printJson(io, { key: keys.positionsHeld, held });
      else
        io.out(
          Object.keys(held).length === 0
            ? 'no held positions remembered'
            : Object.entries(held)
                .map(([k, v]) => `${k} ${v}`)
                .join('\n'),
        );
      return ExitCode.ok;
    },
  },
];
