import { streams } from '../../schemas/keys.js';
import type { RedisClient } from '../../runtime/redis.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { parseSince } from '../duration.js';
import { ExitCode, UsageError } from '../errors.js';
import { printJson } from '../output.js';
import { withRedis } from '../redis.js';
import { formatCsv, formatText } from '../report/shadow-format.js';
import { aggregateShadow, type CalibratedEntry } from '../report/shadow.js';
import { fieldsToRecord } from '../../schemas/fields.js';

const help = [
  'Usage: quantum-gates report shadow [--since 24h] [--until T] [--bin-width 0.05] [--json | --csv]',
  '',
  "The heat gate's shadow-compare analysis (seed 001): from the calibrated stream",
  `(${streams.harvestCalibrated}, or $P26_OUTPUT_STREAM), how often FULL_CLOSE was downgraded`,
  'overall, per heat bucket and per symbol, and the distribution of portfolio heat.',
  '',
  'Options:',
  '  --since S        start of the window: a duration back from now (90m, 24h, 7d, 1h30m)',
  '                   or an ISO time (2026-01-27T00:00:00Z); default 24h',
  '  --until T        end of the window, same forms; default now',
  '  --bin-width W    heat histogram bin width (default 0.05; the last bin is open from 1.0)',
  '  --json           the report as JSON',
  '  --csv            the report as CSV, one row per number: section,group,metric,value',
].join('\n');

const CHUNK = 1000;

async function readWindow(redis: RedisClient, stream: string, from: number, to: number): Promise<CalibratedEntry[]> {
  const entries: CalibratedEntry[] = [];
  let start = String(from);
  for (;;) {
    const chunk = (await redis.xrange(stream, start, String(to), 'COUNT', CHUNK)) as [string, string[]][];
    for (const [id, list] of chunk) {
      entries.push({ id, fields: fieldsToRecord(list) });
    }
    if (chunk.length < CHUNK) return entries;
    start = `(${chunk[chunk.length - 1]![0]}`;
  }
}

export const reportCommands: readonly Command[] = [
  {
    name: 'report shadow',
    summary: 'shadow-compare report of the heat gate (downgrades, heat distribution)',
    help,
    async run(argv, io) {
      const command = 'report shadow';
      const args = parseCommandArgs(command, argv, {
        since: { type: 'string' },
        until: { type: 'string' },
        'bin-width': { type: 'string' },
        json: { type: 'boolean' },
        csv: { type: 'boolean' },
      });
      if (args.values.json && args.values.csv) throw new UsageError('choose one of --json and --csv', command);
      const now = io.now();
      const sinceText = args.values.since ?? '24h';
      const from = parseSince(sinceText, now);
      if (from === undefined) throw new UsageError(`--since must be a duration such as 24h or an ISO time (got "${sinceText}")`, command);
      const to = args.values.until === undefined ? now : parseSince(args.values.until, now);
      if (to === undefined) throw new UsageError(`--until must be a duration such as 1h or an ISO time (got "${args.values.until}")`, command);
      if (to < from) throw new UsageError('--until is before --since', command);
      const binWidth = args.values['bin-width'] === undefined ? 0.05 : Number(args.values['bin-width']);
      if (!(binWidth > 0 && binWidth <= 1)) throw new UsageError(`--bin-width must be a number in (0, 1] (got "${args.values['bin-width']}")`, command);

      const stream = io.env.P26_OUTPUT_STREAM?.trim() || streams.harvestCalibrated;
      const entries = await withRedis(io, (redis) => readWindow(redis, stream, Math.floor(from), Math.floor(to)));
      const report = aggregateShadow(entries, { binWidth });
      const window = { stream, from, to };
      if (args.values.json) printJson(io, { stream, from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...report });
      else if (args.values.csv) io.out(formatCsv(report, window));
      else io.out(formatText(report, window));
      return ExitCode.ok;
    },
  },
];
